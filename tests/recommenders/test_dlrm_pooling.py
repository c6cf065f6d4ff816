"""DLRM history-bag pooling (sum as in facebookresearch/dlrm, or mean) and the reference's
embedding initialisation U(-sqrt(1/rows), sqrt(1/rows)), against their formulas."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
from scipy import stats

from simlab.recommenders.dlrm.arches import SparseArch
from simlab.recommenders.dlrm.recommender import DLRMRecommender
from tests.recommenders.test_dlrm import auc, make_rec, make_view, synthetic_log

ROWS = {"user": 11, "item": 13, "topic": 4, "creator": 7, "history": 13}


def arch(pooling: str = "mean", init: str = "scale", rows: dict[str, int] = ROWS, dim: int = 3) -> SparseArch:
    return SparseArch(rows, dim, torch.Generator().manual_seed(0), torch.device("cpu"), pooling=pooling, init=init)


BAGS = torch.tensor([[3, 5, 5, -1], [-1, -1, -1, -1], [0, 12, 7, 1]])


def by_hand(weight: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sum (or mean) of the rows of each bag's valid ids, a repeat counting twice; empty -> 0."""
    out = torch.zeros(BAGS.shape[0], weight.shape[1], dtype=weight.dtype)
    for b, bag in enumerate(BAGS.tolist()):
        ids = [i for i in bag if i >= 0]
        for i in ids:
            out[b] += weight[i]
        if pooling == "mean" and ids:
            out[b] /= len(ids)
    return out


@pytest.mark.parametrize("pooling", ["sum", "mean"])
@pytest.mark.parametrize("path", ["embedding_bag", "gather", "twice_differentiable"])
def test_history_pooling_is_the_sum_or_mean_of_the_bags_rows(pooling: str, path: str) -> None:
    sa = arch(pooling)
    weight = sa.weight("history")
    expected = by_hand(weight.detach(), pooling)
    if path == "embedding_bag":
        with torch.no_grad():
            got = sa.lookup("history", BAGS)
    elif path == "gather":  # dense-gradient training path
        got = sa.lookup("history", BAGS)
    else:
        with sa.differentiable_twice():
            got = sa.lookup("history", BAGS)
    torch.testing.assert_close(got.detach(), expected, rtol=1e-6, atol=1e-7)
    if path != "embedding_bag":  # d(sum of pooled)/d row = its count in the bags (/|bag| for mean)
        got.sum().backward()
        counts = torch.tensor([1.0, 1.0]) if pooling == "sum" else torch.tensor([1 / 3, 1 / 4])
        assert math.isclose(weight.grad[5, 0].item(), 2 * counts[0].item(), rel_tol=1e-6)
        assert math.isclose(weight.grad[12, 0].item(), counts[1].item(), rel_tol=1e-6)


def test_sum_pooling_with_history_groups_matches_ungrouped() -> None:
    sa = arch("sum")
    bags = BAGS[[0, 0, 2, 1, 2]]
    groups = torch.tensor([4, 4, 9, 1, 9])
    with torch.no_grad():
        torch.testing.assert_close(
            sa.lookup("history", bags, groups), by_hand(sa.weight("history"), "sum")[[0, 0, 2, 1, 2]]
        )


def test_reference_init_bounds_and_uniform_distribution() -> None:
    rows = {"user": 400, "item": 2500, "topic": 4, "creator": 100, "history": 2500}
    sa = arch(init="reference", rows=rows, dim=16)
    for name, n in rows.items():
        w = sa.weight(name).detach().double().reshape(-1)
        bound = math.sqrt(1 / n)
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.9 * bound  # fills the interval, not a narrower one
        # U(-b, b): Kolmogorov-Smirnov against the uniform CDF (16 x n draws)
        assert stats.kstest(w.numpy(), stats.uniform(loc=-bound, scale=2 * bound).cdf).pvalue > 1e-3
    # grown rows follow the table's initial distribution
    sa.grow("item", 5000, torch.Generator().manual_seed(1))
    new = sa.weight("item").detach()[2500:].double().reshape(-1)
    assert new.abs().max() <= math.sqrt(1 / 2500)
    assert stats.kstest(new.numpy(), stats.uniform(loc=-0.02, scale=0.04).cdf).pvalue > 1e-3


def test_default_init_is_the_scale_and_mean_pooling() -> None:
    s = DLRMRecommender.Settings()
    assert (s.pooling, s.init) == ("mean", "scale")
    w = arch(rows={**ROWS, "item": 3000}).weight("item").detach().reshape(-1)
    assert w.abs().max() <= 0.05 and w.abs().max() > 0.049


def test_recommender_settings_reach_the_model_and_it_learns_with_sum_pooling() -> None:
    view = make_view(100, 80, capacity=96)
    rec = make_rec(view, pooling="sum", init="reference", epochs=3, batch_size=256, lr=0.1)
    assert rec.model.sparse_arch.pooling == "sum"
    assert rec.model.sparse_arch.weight("item").abs().max() <= math.sqrt(1 / 96)
    log, _ = synthetic_log(view, 12_000)
    rec.train(log, step=30)
    rows = synthetic_log(view, 4000, seed=1)[0].rows()
    assert auc(rec.predict(rows.user, rows.item), rows.label) >= 0.7
    with pytest.raises(pydantic.ValidationError):
        DLRMRecommender.Settings(pooling="max")
    with pytest.raises(pydantic.ValidationError):
        DLRMRecommender.Settings(init="normal")
