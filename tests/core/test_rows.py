"""simlab.core.rows.Rows: the one type of training rows (the log's, the feed's, train(extra=))."""

from __future__ import annotations

import torch

from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog


def _log() -> ImpressionLog:
    log = ImpressionLog(capacity=10, n_dense=2, history=3, device=torch.device("cpu"))
    n = 4
    log.append(
        user=torch.tensor([0, 1, 2, 3]),
        item=torch.tensor([5, 6, 7, 8]),
        position=torch.tensor([0, 1, 0, 1]),
        label=torch.tensor([1.0, 0.0, 0.0, 1.0]),
        step=torch.tensor([0, 0, 1, 1]),
        dense=torch.arange(2 * n, dtype=torch.float32).reshape(n, 2),
        history=torch.full((n, 3), -1),
    )
    return log


def test_the_log_returns_rows_and_they_select_and_tail():
    rows = _log().rows()
    assert isinstance(rows, Rows) and len(rows) == 4
    assert rows.select(rows.label > 0).item.tolist() == [5, 8]
    assert rows.tail(3).user.tolist() == [1, 2, 3] and rows.tail(3).dense.shape == (3, 2)
    assert _log().rows(since_step=1).user.tolist() == [2, 3]


def test_concat_pads_shorter_history_bags_and_skips_none():
    rows = _log().rows()
    synthetic = Rows.synthetic(torch.tensor([9, 9]), torch.tensor([1, 2]), torch.tensor([0.5, 0.25]), 3, history=1,
                               n_dense=2)  # fmt: skip
    both = Rows.concat(rows, None, synthetic)
    assert both is not None and len(both) == 6
    assert both.history.shape == (6, 3) and both.history[4:].tolist() == [[-1, -1, -1]] * 2
    assert both.step[4:].tolist() == [3, 3] and both.position[4:].tolist() == [0, 0]
    assert Rows.concat(None, None) is None and Rows.concat(rows) is rows


def test_replace_keeps_a_label_gradient():
    rows = _log().rows()
    soft = torch.full((4,), 0.5, requires_grad=True)
    replaced = rows.replace(label=soft)
    (replaced.label * 2).sum().backward()
    assert soft.grad is not None and torch.equal(replaced.user, rows.user)
