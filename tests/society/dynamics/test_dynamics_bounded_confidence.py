"""Deffuant, Hegselmann–Krause and algorithmic-bias models against their known behaviour.

Opinions live in [-1, 1], twice the papers' [0, 1]: a paper's threshold d is eps = 2d here.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.core.state import Catalog, Users
from simlab.society.dynamics import AlgorithmicBias, BoundedConfidence, random_matching
from simlab.society.dynamics.bounded_confidence import sequential_pairwise
from simlab.society.network import Edges, gnp_pairs, to_graph

EMPTY = torch.zeros(0, dtype=torch.long)


def make_users(x, eps) -> Users:
    x = torch.as_tensor(x, dtype=torch.float64)
    x = x[:, None] if x.dim() == 1 else x
    n = x.shape[0]
    full = lambda v: torch.as_tensor(v, dtype=torch.float64).expand(n).clone()  # noqa: E731
    return Users(
        x, x.clone(), full(0.1), full(0.0), full(eps), torch.ones(n, 1), full(0.5), torch.zeros(n, dtype=torch.long)
    )


def no_graph(n: int):
    return to_graph(Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), n), n)


def step(model, users, graph, g, eu=EMPTY, ei=EMPTY, catalog=None):
    users.opinion = model.update(users, eu, ei, catalog, graph, g)
    return users.opinion


def clusters(x: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Distinct opinion values (1-d), merging values closer than tol."""
    v = np.sort(x)
    return v[np.concatenate([[True], np.diff(v) > tol])]


def hk(eps: float, mixing: str = "complete") -> BoundedConfidence:
    return BoundedConfidence(BoundedConfidence.Settings(variant="hegselmann_krause", mixing=mixing))


# --------------------------------------------------------------------------- Hegselmann–Krause


@pytest.mark.parametrize("seed", [0, 1])
def test_hk_preserves_order_freezes_and_separates_clusters(seed):
    n, eps = 300, 0.3
    x0 = np.random.default_rng(seed).uniform(-1, 1, n)
    users, graph, g = make_users(x0, eps), no_graph(n), torch.Generator()
    order = np.argsort(x0)
    frozen_at = None
    for t in range(100):
        before = users.opinion.clone()
        after = step(hk(eps), users, graph, g)
        assert (np.diff(after[order, 0].numpy()) >= -1e-12).all()  # x_i <= x_j stays x_i <= x_j
        if torch.equal(after, before):  # exactly frozen, not an asymptotic approach
            frozen_at = t
            break
    assert frozen_at is not None and frozen_at < 50
    values = clusters(users.opinion[:, 0].numpy(), tol=1e-9)
    assert len(values) > 1
    assert (np.diff(values) > eps).all()


def test_hk_consensus_for_large_confidence():
    x0 = np.random.default_rng(0).uniform(-1, 1, 300)
    users, graph, g = make_users(x0, 1.0), no_graph(300), torch.Generator()
    for _ in range(30):
        step(hk(1.0), users, graph, g)
    assert np.ptp(users.opinion.numpy()) < 1e-9


def test_hk_several_axes_and_graph_mixing_agree_with_one_axis_complete_mixing():
    n, eps = 60, 0.35
    x0 = np.random.default_rng(4).uniform(-1, 1, n)
    one = step(hk(eps), make_users(x0, eps), no_graph(n), torch.Generator())[:, 0]
    two = step(hk(eps), make_users(np.stack([x0, np.zeros(n)], 1), eps), no_graph(n), torch.Generator())
    complete_graph = to_graph(nx.complete_graph(n), n)  # self weight 1 + neighbours weight 1: same average
    graph = step(hk(eps, "graph"), make_users(x0, eps), complete_graph, torch.Generator())[:, 0]
    torch.testing.assert_close(two[:, 0], one)
    torch.testing.assert_close(two[:, 1], torch.zeros(n, dtype=torch.float64))
    torch.testing.assert_close(graph, one, atol=1e-6, rtol=0)


def test_hk_items_join_the_confidence_set():
    catalog_y = torch.tensor([[0.2], [0.9]])
    zeros = torch.zeros(2, dtype=torch.long)
    catalog = Catalog(catalog_y, zeros, zeros, torch.zeros(2), zeros, torch.zeros(2), torch.zeros(2), 2)
    users = make_users([0.0], 0.5)
    model = BoundedConfidence(BoundedConfidence.Settings(variant="hegselmann_krause", item_weight=1.0))
    out = model.update(users, torch.tensor([0, 0]), torch.tensor([0, 1]), catalog, no_graph(1), torch.Generator())
    torch.testing.assert_close(out[:, 0], torch.tensor([0.1], dtype=torch.float64), atol=1e-7, rtol=0)  # (0 + 0.2)/2


# --------------------------------------------------------------------------- Deffuant


def deffuant(mixing: str = "complete", mu: float = 0.5) -> BoundedConfidence:
    return BoundedConfidence(BoundedConfidence.Settings(variant="deffuant", mixing=mixing, convergence=mu))


@pytest.mark.parametrize("mixing", ["complete", "graph"])
def test_deffuant_conserves_the_mean(mixing):
    n = 2000
    x0 = np.random.default_rng(0).uniform(-1, 1, n)
    u, v = gnp_pairs(np.random.default_rng(1), n, 8 / n)
    graph = to_graph(Edges(u, v, n), n) if mixing == "graph" else no_graph(n)
    users, g = make_users(x0, 0.5), torch.Generator().manual_seed(0)
    mean0 = users.opinion.mean().item()
    for _ in range(30):
        step(deffuant(mixing, 0.3), users, graph, g)
    assert abs(users.opinion.mean().item() - mean0) < 1e-12
    assert np.std(users.opinion.numpy()) < np.std(x0)  # and something happened


def test_deffuant_consensus_above_half_and_fragments_below():
    n = 500
    x0 = np.random.default_rng(2).uniform(-1, 1, n)
    results = {}
    for eps in (1.0, 0.2):  # d = 0.5 and d = 0.1 on the papers' unit interval
        users, g = make_users(x0, eps), torch.Generator().manual_seed(3)
        for _ in range(150):
            step(deffuant(), users, no_graph(n), g)
        results[eps] = clusters(users.opinion[:, 0].numpy(), tol=0.05)
    assert len(results[1.0]) == 1
    # about 1/(2d) = 5 major clusters (Deffuant et al. 2000), plus a few stragglers
    assert len(results[0.2]) >= 3


def test_deffuant_pair_update_is_hand_computable():
    users, g = make_users([0.0, 0.4], 0.5), torch.Generator().manual_seed(0)
    out = step(deffuant(mu=0.25), users, no_graph(2), g)[:, 0]
    torch.testing.assert_close(out, torch.tensor([0.1, 0.3], dtype=torch.float64))
    users, g = make_users([0.0, 0.6], 0.5), torch.Generator().manual_seed(0)  # too far apart
    torch.testing.assert_close(
        step(deffuant(), users, no_graph(2), g)[:, 0], torch.tensor([0.0, 0.6], dtype=torch.float64)
    )


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 30), p=st.integers(0, 80), seed=st.integers(0, 2**31 - 1))
def test_random_matching_is_a_matching(n, p, seed):
    rng = np.random.default_rng(seed)
    a, b = torch.tensor(rng.integers(0, n, p)), torch.tensor(rng.integers(0, n, p))
    ka, kb = random_matching(a, b, n, torch.Generator().manual_seed(seed))
    nodes = torch.cat([ka, kb])
    assert nodes.unique().numel() == nodes.numel()  # nobody in two pairs
    assert (ka != kb).all()
    candidates = set(zip(a.tolist(), b.tolist()))
    assert all(pair in candidates for pair in zip(ka.tolist(), kb.tolist()))
    if (a != b).any():
        assert ka.numel() >= 1  # the pair with the smallest priority is always kept


# --------------------------------------------------------------------------- algorithmic bias


def effective_clusters(x: np.ndarray, tol: float = 0.02) -> float:
    """(sum S)^2 / sum S^2 over groups of opinions split at gaps > tol (Sîrbu et al. 2019)."""
    v = np.sort(x)
    cuts = np.flatnonzero(np.diff(v) > tol)
    sizes = np.diff(np.concatenate([[0], cuts + 1, [v.size]]))
    return sizes.sum() ** 2 / (sizes**2).sum()


def converged(x: np.ndarray, eps: float) -> bool:
    """No pair can still move much: every gap is tiny or beyond the confidence bound."""
    gaps = np.diff(np.sort(x))
    return bool(((gaps < 1e-3) | (gaps >= eps)).all())


def test_algorithmic_bias_slows_convergence_and_fragments():
    n, eps, horizon = 100, 0.6, 300  # d = 0.3 on the unit interval, mu = 0.5 as in the paper
    times, fragments = {}, {}
    for gamma in (0.0, 1.0):
        model = AlgorithmicBias(AlgorithmicBias.Settings(gamma=gamma, mixing="complete"))
        t_all, c_all = [], []
        for seed in range(4):
            users = make_users(np.random.default_rng(seed).uniform(-1, 1, n), eps)
            g = torch.Generator().manual_seed(seed)
            t = horizon
            for i in range(horizon):
                if converged(step(model, users, no_graph(n), g)[:, 0].numpy(), eps):
                    t = i
                    break
            t_all.append(t)
            c_all.append(effective_clusters(users.opinion[:, 0].numpy()))
        times[gamma], fragments[gamma] = np.mean(t_all), np.mean(c_all)
    assert times[1.0] > 1.5 * times[0.0]
    assert fragments[1.0] > 2 * fragments[0.0]


def test_algorithmic_bias_gamma_zero_is_deffuant_and_conserves_mean():
    n = 400
    x0 = np.random.default_rng(0).uniform(-1, 1, n)
    u, v = gnp_pairs(np.random.default_rng(1), n, 10 / n)
    for model, graph in (
        (AlgorithmicBias(AlgorithmicBias.Settings(gamma=0.0, mixing="complete")), no_graph(n)),
        (AlgorithmicBias(AlgorithmicBias.Settings(gamma=1.0, mixing="complete", peers=8)), no_graph(n)),
        (AlgorithmicBias(AlgorithmicBias.Settings(gamma=1.0)), to_graph(Edges(u, v, n), n)),
    ):
        users, g = make_users(x0, 0.5), torch.Generator().manual_seed(0)
        for _ in range(20):
            step(model, users, graph, g)
        assert abs(users.opinion.mean().item() - x0.mean()) < 1e-12
        assert users.opinion.std().item() < x0.std()


def test_algorithmic_bias_prefers_close_partners():
    """With a large gamma the chosen partner is almost always the nearest neighbour."""
    x = torch.tensor([0.0, 0.05, 0.9, 1.0], dtype=torch.float64)[:, None]
    model = AlgorithmicBias(AlgorithmicBias.Settings(gamma=8.0, mixing="complete", encounters=50))
    initiator, partner = model.encounters(x, no_graph(4), torch.Generator().manual_seed(0))
    assert initiator.numel() == 200 and set(initiator.tolist()) == {0, 1, 2, 3}  # uniform initiators
    nearest = torch.tensor([1, 0, 3, 2])
    assert (partner == nearest[initiator]).float().mean() > 0.99


def test_sequential_pairwise_equals_one_pair_at_a_time():
    """The round-batched schedule equals a plain loop over the pairs in order (repeats allowed)."""
    rng = np.random.default_rng(3)
    n, p = 30, 200
    x = torch.tensor(rng.uniform(-1, 1, (n, 2)))
    eps = torch.tensor(rng.uniform(0.2, 1.5, n))
    a, b = torch.tensor(rng.integers(0, n, p)), torch.tensor(rng.integers(0, n, p))
    expected = x.clone()
    for i, j in zip(a.tolist(), b.tolist()):
        gap = expected[j] - expected[i]
        d = gap.norm()
        move_i, move_j = 0.3 * gap * (d < eps[i]), -0.3 * gap * (d < eps[j])
        expected[i] += move_i
        expected[j] += move_j
    assert torch.allclose(sequential_pairwise(x, eps, a, b, 0.3), expected, rtol=0, atol=1e-12)


def _reference_effective_share(x, eps, gamma, neighbours, floor, draws, rng):
    """One encounter at a time (Sîrbu et al. 2019; ndlib's AlgorithmicBiasModel) on fixed opinions:
    a uniform initiator, a partner drawn with probability ~ d^-gamma among its neighbours."""
    n, hits, total = x.size, 0, 0
    for _ in range(draws):
        i = int(rng.integers(n))
        peers = neighbours[i]
        if peers.size == 0:
            continue
        w = np.maximum(np.abs(x[peers] - x[i]), floor) ** -gamma
        j = peers[np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right").clip(max=peers.size - 1)]
        hits += abs(x[j] - x[i]) < eps
        total += 1
    return hits / total, total


def _clustered_opinions(n: int, rng: np.random.Generator) -> np.ndarray:
    """Tight clusters plus a uniform background: where biased partner choice matters most."""
    centres = rng.choice([-0.8, -0.2, 0.5], n)
    return np.where(rng.random(n) < 0.6, centres + rng.normal(0, 0.02, n), rng.uniform(-1, 1, n))


@pytest.mark.parametrize("mixing", ["complete", "graph", "peers"])
def test_algorithmic_bias_effective_encounter_share_matches_one_pair_at_a_time(mixing):
    """On fixed opinion states, the share of encounters with |d| < eps (those that move opinions)
    matches the sequential one-pair-at-a-time rule within sampling error. The former rule (every
    user proposes, then a random matching) gave 20-37% fewer effective encounters."""
    rng = np.random.default_rng(0)
    n, eps, gamma = 300, 0.3, 1.5
    x = _clustered_opinions(n, rng)
    floor = 1e-6
    if mixing == "graph":
        u, v = gnp_pairs(np.random.default_rng(1), n, 12 / n)
        graph = to_graph(Edges(u, v, n), n)
        src, dst = graph.src.numpy(), graph.dst.numpy()
        neighbours = [dst[src == i] for i in range(n)]
        settings = AlgorithmicBias.Settings(gamma=gamma, distance_floor=floor, encounters=20)
    else:
        graph = no_graph(n)
        neighbours = [np.delete(np.arange(n), i) for i in range(n)]
        settings = AlgorithmicBias.Settings(
            gamma=gamma, mixing="complete", distance_floor=floor, encounters=20, peers=n if mixing == "peers" else None
        )
    model = AlgorithmicBias(settings)
    a, b = model.encounters(torch.tensor(x)[:, None], graph, torch.Generator().manual_seed(0))
    share = (np.abs(x[a.numpy()] - x[b.numpy()]) < eps).mean()
    # exact expectation: mean over initiators i of sum_j p_i(j) [d_ij < eps]
    exact = []
    for i in range(n):
        if neighbours[i].size:
            d = np.abs(x[neighbours[i]] - x[i])
            w = np.maximum(d, floor) ** -gamma
            exact.append((w * (d < eps)).sum() / w.sum())
    expected = float(np.mean(exact))
    reference, draws = _reference_effective_share(x, eps, gamma, neighbours, floor, 6000, rng)
    for value, size in ((share, a.numel()), (reference, draws)):
        se = np.sqrt(expected * (1 - expected) / size)
        assert abs(value - expected) < 4 * se + 1e-3, (mixing, value, expected, se)
    if mixing == "peers":  # peers = n draws n of the others with replacement: only close to exact
        return
    assert abs(share - reference) < 4 * np.sqrt(2 * expected * (1 - expected) / draws)


def test_algorithmic_bias_time_unit_is_n_encounters_per_step():
    n = 500
    x = torch.tensor(_clustered_opinions(n, np.random.default_rng(2)))[:, None]
    for encounters in (1.0, 2.5):
        model = AlgorithmicBias(AlgorithmicBias.Settings(mixing="complete", encounters=encounters))
        a, b = model.encounters(x, no_graph(n), torch.Generator().manual_seed(1))
        assert a.numel() == b.numel() == round(encounters * n)
        assert (a != b).all()
        counts = torch.bincount(a, minlength=n).double()
        assert abs(counts.mean().item() - encounters) < 1e-9  # initiations per user per step


def test_quadratic_complete_mixing_is_refused_for_huge_populations(monkeypatch):
    import simlab.society.dynamics.bounded_confidence as bc

    monkeypatch.setattr(bc, "MAX_DENSE_USERS", 10)
    users = make_users(np.zeros((11, 2)), 0.5)
    with pytest.raises(ValueError, match="O\\(N\\^2\\)"):
        hk(0.5).update(users, EMPTY, EMPTY, None, no_graph(11), torch.Generator())
    model = AlgorithmicBias(AlgorithmicBias.Settings(mixing="complete"))
    with pytest.raises(ValueError, match="set peers"):
        model.update(make_users(np.zeros(11), 0.5), EMPTY, EMPTY, None, no_graph(11), torch.Generator())
