"""Position debiasing (docs/learning.md): on a log whose only signal is the slate position, a
debiased learner must not mistake the items a feed happened to show on top for better items."""

from __future__ import annotations

import pytest
import torch

from simlab.core.protocols import N_DENSE, PlatformView
from simlab.core.state import ImpressionLog
from simlab.recommenders.als import ALSRecommender
from simlab.recommenders.dlrm.recommender import DLRMRecommender
from simlab.recommenders.dlrm.trainer import position_aware_bce
from tests.recommenders.test_dlrm import H, make_view

USERS, ITEMS, SLATE = 60, 40, 5


def position_only_log(rows: int = 30_000, seed: int = 0) -> ImpressionLog:
    """Items 0..19 are shown at the top position 80% of the time, items 20..39 at the bottom one
    80% of the time (elsewhere uniformly otherwise); engagement is 0.5 / (1 + position), the
    same for every user and item."""
    g = torch.Generator().manual_seed(seed)
    user = torch.randint(0, USERS, (rows,), generator=g)
    item = torch.randint(0, ITEMS, (rows,), generator=g)
    usual = torch.where(item < ITEMS // 2, 0, SLATE - 1)
    elsewhere = torch.randint(0, SLATE, (rows,), generator=g)
    position = torch.where(torch.rand(rows, generator=g) < 0.8, usual, elsewhere)
    label = (torch.rand(rows, generator=g) < 0.5 / (1 + position)).float()
    log = ImpressionLog(rows, N_DENSE, H, torch.device("cpu"))
    log.append(
        user=user,
        item=item,
        position=position,
        label=label,
        step=torch.zeros(rows, dtype=torch.long),
        dense=torch.zeros(rows, N_DENSE),
        history=torch.full((rows, H), -1),
    )
    return log


def blank_view() -> PlatformView:
    """A view whose observable features carry no signal (zero counters, empty histories)."""
    view = make_view(USERS, ITEMS)
    view.items.impressions.zero_()
    view.items.engagements.zero_()
    view.items.created.zero_()
    view.user_impressions.zero_()
    view.user_engagements.zero_()
    view.history.fill_(-1)
    view.step = 0
    return view


def top_minus_bottom(scores: torch.Tensor) -> float:
    """Mean score of the items usually shown on top minus that of the items usually at the bottom."""
    return float(scores[:, : ITEMS // 2].mean() - scores[:, ITEMS // 2 :].mean())


def dlrm_gap(debias: bool) -> tuple[float, DLRMRecommender]:
    view = blank_view()
    rec = DLRMRecommender(
        DLRMRecommender.Settings(position_debias=debias, epochs=4, window=10**6, window_unit="impressions")
    )
    rec.setup(view, torch.Generator().manual_seed(0))
    rec.train(position_only_log(), step=0)
    users = torch.arange(USERS)
    return top_minus_bottom(rec.score(users, torch.arange(ITEMS).expand(USERS, ITEMS))), rec


def test_dlrm_position_tower_keeps_position_out_of_the_item_scores() -> None:
    biased, _ = dlrm_gap(debias=False)
    debiased, rec = dlrm_gap(debias=True)
    # without the tower the items shown on top look far better (log-odds of 0.5 vs 0.1 is 2.2)
    assert biased > 0.8, biased
    assert abs(debiased) < 0.25 * biased, (debiased, biased)
    # and the tower learned the examination curve q_r = 1 / (1 + r) (relative to the top)
    position_arch = rec.model.position_arch
    assert position_arch is not None
    q = position_arch(torch.arange(SLATE)).exp().detach()
    assert q[0] == 1.0
    assert q.tolist() == pytest.approx([1 / (1 + r) for r in range(SLATE)], abs=0.12)


def als_gap(debias: bool) -> tuple[float, ALSRecommender]:
    view = blank_view()
    rec = ALSRecommender(ALSRecommender.Settings(position_debias=debias, rank=2, reg=2.0))
    rec.setup(view, torch.Generator().manual_seed(0))
    rec.train(position_only_log(), step=0)
    users = torch.arange(USERS)
    return top_minus_bottom(rec.score(users, torch.arange(ITEMS).expand(USERS, ITEMS))), rec


def test_als_position_offsets_keep_position_out_of_the_item_scores() -> None:
    biased, _ = als_gap(debias=False)
    debiased, rec = als_gap(debias=True)
    assert biased > 0.15, biased  # 0.8 * (0.5 - 0.1) minus shrinkage
    assert abs(debiased) < 0.15 * biased, (debiased, biased)
    assert rec.offset.tolist() == pytest.approx([0.5 / (1 + r) for r in range(SLATE)], abs=0.03)


def test_position_aware_bce_is_the_bce_of_the_product_probability() -> None:
    logits = torch.tensor([-2.0, 0.0, 3.0, 30.0])
    log_q = torch.log(torch.tensor([1.0, 0.5, 0.2, 0.9]))
    labels = torch.tensor([1.0, 0.0, 1.0, 0.3])
    p = log_q.exp() * torch.sigmoid(logits)
    expected = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    torch.testing.assert_close(position_aware_bce(logits, log_q, labels), expected)
    # at the top position (q = 1) it is the plain BCE; gradients stay finite when p -> 1
    z = torch.tensor([40.0], requires_grad=True)
    position_aware_bce(z, torch.zeros(1), torch.ones(1)).backward()
    assert torch.isfinite(z.grad).all()
