"""DeGroot and Friedkin–Johnsen against their closed forms."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from simlab.core.state import Catalog, Users
from simlab.society.dynamics import DeGroot, FriedkinJohnsen, fj_equilibrium
from simlab.society.network import Edges, gnp_pairs, to_graph

EMPTY = torch.zeros(0, dtype=torch.long)


def make_users(x, anchoring=0.0) -> Users:
    x = torch.as_tensor(x, dtype=torch.float64)
    x = x[:, None] if x.dim() == 1 else x
    n = x.shape[0]
    full = lambda v: torch.as_tensor(v, dtype=torch.float64).expand(n).clone()  # noqa: E731
    return Users(
        x,
        x.clone(),
        full(0.1),
        full(anchoring),
        full(0.4),
        torch.ones(n, 1),
        full(0.5),
        torch.zeros(n, dtype=torch.long),
    )


def make_catalog(stance) -> Catalog:
    y = torch.as_tensor(stance, dtype=torch.float32)[:, None]
    m = y.shape[0]
    zeros = torch.zeros(m, dtype=torch.long)
    return Catalog(y, zeros, zeros, torch.zeros(m), zeros, torch.zeros(m), torch.zeros(m), m)


def iterate(model, users, graph, steps, eu=EMPTY, ei=EMPTY, catalog=None):
    g = torch.Generator().manual_seed(0)
    history = [users.opinion]
    for _ in range(steps):
        users.opinion = model.update(users, eu, ei, catalog, graph, g)
        history.append(users.opinion)
    return history


def karate(weighted: bool = False):
    graph = nx.karate_club_graph()
    if not weighted:
        nx.set_edge_attributes(graph, 1.0, "weight")
    return graph


def test_degroot_converges_to_degree_weighted_average():
    nxg = karate()
    graph = to_graph(nxg, 34)
    x0 = np.random.default_rng(0).uniform(-1, 1, 34)
    final = iterate(DeGroot(DeGroot.Settings()), make_users(x0), graph, 400)[-1][:, 0].numpy()
    degree = np.array([d for _, d in sorted(nxg.degree())], dtype=float)
    limit = degree @ x0 / degree.sum()  # stationary distribution pi_i = d_i / 2|E|
    np.testing.assert_allclose(final, limit, atol=1e-5)


def test_degroot_oscillates_on_a_bipartite_graph():
    nxg = nx.complete_bipartite_graph(2, 3)
    graph = to_graph(nxg, 5)
    x0 = np.array([1.0, 1.0, -1.0, -1.0, -1.0])
    history = iterate(DeGroot(), make_users(x0), graph, 200)
    last, prev, prev2 = history[-1], history[-2], history[-3]
    assert (last - prev).abs().max() > 1.0  # still swinging: the two sides swap every step
    torch.testing.assert_close(last, prev2)  # period 2
    # a lazy walk (self weight) is aperiodic and converges to the degree-weighted mean
    lazy = iterate(DeGroot(DeGroot.Settings(self_weight=0.5)), make_users(x0), graph, 200)[-1]
    degree = np.array([3, 3, 2, 2, 2], dtype=float)
    np.testing.assert_allclose(lazy[:, 0].numpy(), degree @ x0 / degree.sum(), atol=1e-6)


def test_degroot_engaged_items_are_extra_neighbours():
    graph = to_graph(Edges(np.array([0]), np.array([1]), 3), 3)
    users = make_users([0.5, -0.5, 0.2])
    model = DeGroot(DeGroot.Settings(item_weight=1.0))
    out = model.update(
        users, torch.tensor([0, 2, 2]), torch.tensor([0, 0, 1]), make_catalog([1.0, 0.0]), graph, torch.Generator()
    )
    # user 0: (neighbour -0.5 + item 1.0) / 2; user 1: neighbour 0.5; user 2 (isolated): (0.2 + 1 + 0) / 3
    torch.testing.assert_close(out[:, 0], torch.tensor([0.25, 0.5, 0.4], dtype=torch.float64), atol=1e-6, rtol=0)


def random_weighted(n: int, seed: int, directed: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 2.0, (n, n)) * (rng.random((n, n)) < 0.3)
    np.fill_diagonal(w, 0)
    return w if directed else np.triu(w, 1) + np.triu(w, 1).T


@pytest.mark.parametrize("directed", [False, True])
def test_fj_equilibrium_matches_dense_inverse_for_every_input_type(directed):
    w = random_weighted(30, 1, directed)
    s = np.random.default_rng(2).uniform(-1, 1, (30, 2))
    expected = np.linalg.solve(np.eye(30) + np.diag(w.sum(1)) - w, s)
    src, dst = np.nonzero(w)
    graph = to_graph(Edges(src, dst, 30, w[src, dst], directed=True), 30)
    for adjacency in (w, sp.csr_matrix(w), torch.tensor(w), torch.tensor(w).to_sparse_csr(), graph):
        np.testing.assert_allclose(fj_equilibrium(adjacency, s), expected, atol=1e-6)
    z = fj_equilibrium(w, torch.tensor(s[:, 0], dtype=torch.float32))
    assert isinstance(z, torch.Tensor) and z.shape == (30,) and z.dtype == torch.float32


def test_fj_iteration_converges_to_the_equilibrium():
    nxg = karate(weighted=True)  # interaction counts as weights
    graph = to_graph(nxg, 34)
    s = np.random.default_rng(3).uniform(-1, 1, 34)
    final = iterate(FriedkinJohnsen(), make_users(s), graph, 300)[-1][:, 0].numpy()
    np.testing.assert_allclose(final, fj_equilibrium(nx.to_numpy_array(nxg, nodelist=range(34)), s), atol=1e-5)


def test_fj_with_engaged_items_converges_to_the_augmented_equilibrium():
    """Constant engagements: fixed point (I + L + omega N) z = s + omega sum y."""
    w = random_weighted(10, 4)
    src, dst = np.nonzero(np.triu(w))
    graph = to_graph(Edges(src, dst, 10, w[src, dst]), 10)
    s = np.random.default_rng(5).uniform(-1, 1, 10)
    eu, ei = torch.tensor([0, 0, 3]), torch.tensor([0, 1, 1])
    y = np.array([0.9, -0.3])
    model = FriedkinJohnsen(FriedkinJohnsen.Settings(item_weight=0.5))
    final = iterate(model, make_users(s), graph, 300, eu, ei, make_catalog(y))[-1][:, 0].numpy()
    counts = np.bincount(eu.numpy(), minlength=10)
    item_sum = np.bincount(eu.numpy(), weights=y[ei.numpy()], minlength=10)
    expected = np.linalg.solve(np.eye(10) + np.diag(w.sum(1)) - w + 0.5 * np.diag(counts), s + 0.5 * item_sum)
    np.testing.assert_allclose(final, expected, atol=1e-5)


def test_fj_anchored_form_fixed_point():
    w = random_weighted(12, 6)
    src, dst = np.nonzero(np.triu(w))
    graph = to_graph(Edges(src, dst, 12, w[src, dst]), 12)
    rng = np.random.default_rng(7)
    s, lam = rng.uniform(-1, 1, 12), rng.uniform(0.1, 0.9, 12)
    final = iterate(
        FriedkinJohnsen(FriedkinJohnsen.Settings(form="anchored")), make_users(s, anchoring=lam), graph, 300
    )[-1][:, 0].numpy()
    row = w / w.sum(1, keepdims=True)
    expected = np.linalg.solve(np.eye(12) - np.diag(1 - lam) @ row, lam * s)
    np.testing.assert_allclose(final, expected, atol=1e-5)


@pytest.mark.parametrize("directed", [False, True])
def test_fj_equilibrium_scales_to_1e5_users(directed):
    n = 100_000
    u, v = gnp_pairs(np.random.default_rng(0), n, 10 / n)
    if directed:
        u, v = np.concatenate([u, v[: u.size // 2]]), np.concatenate([v, u[: u.size // 2]])
    w = sp.csr_matrix((np.ones(u.size), (u, v)), shape=(n, n))
    w = w if directed else w + w.T
    s = np.random.default_rng(1).uniform(-1, 1, n)
    z = fj_equilibrium(w, s)
    residual = z + (np.asarray(w.sum(1)).ravel() * z - w @ z) - s
    assert np.abs(residual).max() < 1e-6
