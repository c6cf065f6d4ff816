"""Biased assimilation (Dandekar, Goel & Lee 2013) on the symmetric two-island network.

Two islands of n nodes; each node gives weight h in total to its own island and 1 - h to the
other (so d_i = 1). Started symmetric (island A at p, island B at 1 - p on the paper's [0, 1]
scale) the islands stay uniform and symmetric, and with m = h p + (1 - h)(1 - p) the update
moves p up iff p^(b-1) m > (1-p)^(b-1) (1-m), i.e. (p/(1-p))^(b-1) > (1-m)/m. Hence:

- b >= 1 (and h > 1/2): p -> 1, the islands polarise to the extremes;
- b < 1: near p = 1 the left side vanishes, so p stops at the interior root p* of
  (p/(1-p))^(b-1) = (1-m)/m, which lies above 1/2 iff the linearisation at 1/2,
  (b - 1) + (2h - 1) > 0, holds, i.e. b > 2(1 - h); otherwise the islands agree (p_A = p_B);
- b = 0 is DeGroot averaging and never polarises: consensus at 1/2.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from simlab.core.state import Catalog, Users
from simlab.society.dynamics import BiasedAssimilation, DeGroot
from simlab.society.network import Edges, to_graph

EMPTY = torch.zeros(0, dtype=torch.long)
H = 0.8  # homophily: 2(1 - h) = 0.4


def two_islands(n: int, h: float):
    island = np.repeat([0, 1], n)
    u, v = np.nonzero(~np.eye(2 * n, dtype=bool))
    same = island[u] == island[v]
    w = np.where(same, h / (n - 1), (1 - h) / n)
    return to_graph(Edges(u, v, 2 * n, w, directed=True), 2 * n)


def make_users(p) -> Users:
    x = torch.as_tensor(2 * np.asarray(p) - 1, dtype=torch.float64)[:, None]
    n = x.shape[0]
    full = lambda v: torch.full((n,), v, dtype=torch.float64)  # noqa: E731
    return Users(
        x, x.clone(), full(0.1), full(0.0), full(0.4), torch.ones(n, 1), full(0.5), torch.zeros(n, dtype=torch.long)
    )


def run_islands(bias: float, p0: float = 0.6, steps: int = 400, n: int = 5) -> np.ndarray:
    graph = two_islands(n, H)
    users = make_users(np.repeat([p0, 1 - p0], n))
    model = BiasedAssimilation(BiasedAssimilation.Settings(bias=bias, self_weight=1.0))
    g = torch.Generator()
    for _ in range(steps):
        users.opinion = model.update(users, EMPTY, EMPTY, None, graph, g)
    return (users.opinion[:, 0].numpy() + 1) / 2


def interior_root(b: float, h: float) -> float:
    def f(p):
        m = h * p + (1 - h) * (1 - p)
        return (b - 1) * np.log(p / (1 - p)) - np.log((1 - m) / m)

    return brentq(f, 0.5 + 1e-9, 1 - 1e-12)


@pytest.mark.parametrize("bias", [1.0, 1.5, 3.0])
def test_polarises_to_the_extremes_for_b_at_least_one(bias):
    p = run_islands(bias, steps=2000 if bias == 1.0 else 400)
    assert p[:5].min() > 0.98 and p[5:].max() < 0.02


@pytest.mark.parametrize("bias", [0.0, 0.2, 0.35])
def test_islands_agree_for_b_below_two_one_minus_h(bias):
    p = run_islands(bias, steps=300)
    assert abs(p[0] - p[5]) < 1e-4  # the disagreement between islands vanishes
    if bias == 0.0:
        np.testing.assert_allclose(p, 0.5, atol=1e-6)  # DeGroot: consensus at the mean


def test_unanimous_group_drifts_to_the_nearer_extreme():
    """With everybody at p, p' = (w p + p^(b+1)) / (w + p^(b+1) + (1-p)^(b+1)) > p iff p > 1/2 (b > 0).

    So for b < 2(1 - h) the islands first agree and their common opinion then slowly leaves 1/2.
    """
    graph = two_islands(3, 0.5)
    users = make_users(np.full(6, 0.6))
    model = BiasedAssimilation(BiasedAssimilation.Settings(bias=1.0, self_weight=1.0))
    p = (model.update(users, EMPTY, EMPTY, None, graph, torch.Generator())[:, 0] + 1) / 2
    expected = (0.6 + 0.36) / (1 + 0.36 + 0.16)
    torch.testing.assert_close(p, torch.full((6,), expected, dtype=torch.float64), atol=1e-6, rtol=0)


@pytest.mark.parametrize("bias", [0.6, 0.8])
def test_interior_fixed_point_between(bias):
    p = run_islands(bias, steps=1500)
    target = interior_root(bias, H)
    assert 0.5 < target < 1
    np.testing.assert_allclose(p[:5], target, atol=1e-3)
    np.testing.assert_allclose(p[5:], 1 - target, atol=1e-3)


def test_b_zero_is_degroot_with_self_weight():
    rng = np.random.default_rng(0)
    graph = two_islands(4, 0.7)
    users = make_users(rng.uniform(0, 1, 8))
    biased = BiasedAssimilation(BiasedAssimilation.Settings(bias=0.0, self_weight=1.0))
    degroot = DeGroot(DeGroot.Settings(self_weight=0.5))  # (w p + s) / (w + d) with w = d = 1
    g = torch.Generator()
    torch.testing.assert_close(
        biased.update(users, EMPTY, EMPTY, None, graph, g), degroot.update(users, EMPTY, EMPTY, None, graph, g)
    )


def test_isolated_user_keeps_opinion_and_items_count_as_neighbours():
    graph = to_graph(Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), 2), 2)
    users = make_users([0.7, 0.5])
    y = torch.tensor([[1.0]])  # p(y) = 1
    zeros = torch.zeros(1, dtype=torch.long)
    catalog = Catalog(y, zeros, zeros, torch.zeros(1), zeros, torch.zeros(1), torch.zeros(1), 1)
    model = BiasedAssimilation(BiasedAssimilation.Settings(bias=1.0, self_weight=1.0, item_weight=1.0))
    out = (model.update(users, torch.tensor([1]), torch.tensor([0]), catalog, graph, torch.Generator()) + 1) / 2
    # user 0: no evidence -> unchanged; user 1: (0.5 + 0.5 * 1) / (1 + 0.5 * 1 + 0.5 * 0) = 2/3
    torch.testing.assert_close(out[:, 0], torch.tensor([0.7, 2 / 3], dtype=torch.float64), atol=1e-6, rtol=0)
