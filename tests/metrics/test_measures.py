"""Measures against closed forms, hand-worked cases, brute-force references and properties."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simlab.metrics import measures as m

FAST = settings(max_examples=50, deadline=None)
opinions = arrays(np.float64, st.integers(4, 60), elements=st.floats(-1, 1))
counts_arrays = arrays(np.float64, st.integers(1, 60), elements=st.floats(0, 100))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- conventions


def test_float_and_tensor_forms_agree():
    x = rng().uniform(-1, 1, 100)
    assert isinstance(m.esteban_ray(x), float)
    t = m.esteban_ray_t(torch.as_tensor(x))
    assert isinstance(t, torch.Tensor) and t.dim() == 0
    assert t.item() == m.esteban_ray(x)
    assert m.esteban_ray.__name__ == "esteban_ray" and m.esteban_ray.__doc__ == m.esteban_ray_t.__doc__


def test_all_exports_exist():
    for name in m.__all__:
        assert callable(getattr(m, name)) or isinstance(getattr(m, name), type)
    plain = [n for n in m.__all__ if not n.endswith("_t") and f"{n}_t" in m.__all__]
    assert len(plain) == 30


# --------------------------------------------------------------------------- opinions


def test_opinion_mean_and_variance_closed_form():
    x = np.array([-1.0, 0.0, 0.5, 0.5])
    assert m.opinion_mean(x) == pytest.approx(0.0)
    assert m.opinion_variance(x) == pytest.approx((1 + 0 + 0.25 + 0.25) / 4)
    xk = np.stack([x, 2 * x], axis=1)  # K = 2: sum of per-axis population variances
    assert m.opinion_variance(xk) == pytest.approx(5 * 1.5 / 4)
    assert m.opinion_mean(xk) == pytest.approx(0.0)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 1.6])
def test_esteban_ray_two_point(alpha):
    x = np.r_[-np.ones(50), np.ones(50)]
    # pi = 1/2 at y = -1 and +1: P = 2 * (1/2)^(1+alpha) * (1/2) * 2 = (1/2)^alpha
    assert m.esteban_ray(x, alpha=alpha) == pytest.approx(0.5**alpha)
    # bin centres instead of bin means: the points sit at -0.95, 0.95 (20 bins) or -0.5, 0.5 (2 bins)
    assert m.esteban_ray(x, alpha=alpha, representative="centre") == pytest.approx(0.5**alpha * 0.95)
    assert m.esteban_ray(x, alpha=alpha, bins=2, representative="centre") == pytest.approx(0.5**alpha * 0.5)


def er_reference(x: np.ndarray, alpha: float) -> float:
    y, c = np.unique(x, return_counts=True)
    pi = c / c.sum()
    return float((pi[:, None] ** (1 + alpha) * pi[None, :] * np.abs(y[:, None] - y[None, :])).sum())


def test_esteban_ray_discrete_distributions():
    three = np.array([-1.0, 0.0, 1.0])  # uniform on 3 points: 8 (1/3)^(2+alpha)
    assert m.esteban_ray(three, alpha=1.0) == pytest.approx(8 / 27)
    uneven = np.r_[np.full(7, -0.9), np.full(2, 0.1), np.full(1, 0.6)]
    for alpha in (0.3, 1.0, 1.5):
        assert m.esteban_ray(uneven, alpha=alpha) == pytest.approx(er_reference(uneven, alpha))
    assert m.esteban_ray(np.full(10, 0.3)) == 0.0
    outside = np.r_[np.full(3, -5.0), np.full(3, 5.0)]  # in the edge bins, keeping their values
    assert m.esteban_ray(outside) == pytest.approx(0.5 * 10 / 2)
    assert m.esteban_ray(outside, representative="centre") == pytest.approx(0.5 * 1.9 / 2)


def test_esteban_ray_multiaxis_is_mean_of_axes():
    x = rng().uniform(-1, 1, (200, 3))
    assert m.esteban_ray(x) == pytest.approx(np.mean([m.esteban_ray(x[:, k]) for k in range(3)]))


def test_bimodality_matches_scipy():
    for x in (rng(1).normal(size=500), rng(2).beta(0.3, 0.3, 77), rng(3).exponential(size=40)):
        n = len(x)
        g = scipy.stats.skew(x, bias=False)
        k = scipy.stats.kurtosis(x, bias=False)
        expected = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
        assert m.bimodality_coefficient(x) == pytest.approx(expected, rel=1e-10)


def test_bimodality_closed_forms():
    n = 100  # symmetric two-point: g = 0, G2 = -2(n-1)/(n-3), so BC = (n-2)(n-3)/((n-1)(n+1))
    two_point = np.r_[-np.ones(n // 2), np.ones(n // 2)]
    assert m.bimodality_coefficient(two_point) == pytest.approx((n - 2) * (n - 3) / ((n - 1) * (n + 1)))
    uniform = np.linspace(-1, 1, 100_001)  # BC -> 1/(3 - 6/5) = 5/9
    assert m.bimodality_coefficient(uniform) == pytest.approx(5 / 9, abs=1e-4)
    assert math.isnan(m.bimodality_coefficient(np.ones(10)))
    assert math.isnan(m.bimodality_coefficient(np.full(10, 0.1) * 1.0625))  # constant up to rounding
    assert math.isnan(m.bimodality_coefficient(np.array([0.0, 1.0, 2.0])))


# --------------------------------------------------------------------------- Musco et al.


def path_adjacency() -> np.ndarray:
    a = np.zeros((3, 3))
    a[0, 1] = a[1, 0] = 2.0
    a[1, 2] = a[2, 1] = 3.0
    return a


def test_musco_path_graph_by_hand_all_input_kinds():
    a = path_adjacency()
    z = np.array([1.0, 0.0, -1.0])
    # mean 0: P = 1 + 0 + 1 = 2; D = 2 (1-0)^2 + 3 (0+1)^2 = 5
    expected = (2.0, 5.0)
    ta = torch.as_tensor(a)
    for adjacency in (
        a,
        scipy.sparse.csr_matrix(a),
        scipy.sparse.coo_matrix(a),
        ta,
        ta.to_sparse_coo(),
        ta.to_sparse_csr(),
        ta.to_sparse_csc(),
    ):
        assert m.polarization_disagreement(adjacency, z) == pytest.approx(expected)
    src, dst = np.nonzero(a)
    result = m.polarization_disagreement_edges(src, dst, a[src, dst], z)
    assert (result.polarization, result.disagreement) == pytest.approx(expected)
    assert result.index == pytest.approx(7.0)
    t = m.polarization_disagreement_t(ta, torch.as_tensor(z))
    assert isinstance(t.disagreement, torch.Tensor) and t.disagreement.dim() == 0


def test_musco_disagreement_is_laplacian_form_and_directed_is_symmetrised():
    g = nx.erdos_renyi_graph(30, 0.2, seed=1)
    for u, v in g.edges:
        g[u][v]["weight"] = 0.5 + (u * v) % 3
    a = nx.to_numpy_array(g)
    lap = np.diag(a.sum(1)) - a
    z = rng(4).uniform(-1, 1, 30)
    assert m.polarization_disagreement(a, z).disagreement == pytest.approx(z @ lap @ z)
    upper = np.triu(a)  # each undirected edge stored once: weights (W + W^T)/2
    assert m.polarization_disagreement(upper, z).disagreement == pytest.approx(z @ lap @ z / 2)
    zk = rng(5).uniform(-1, 1, (30, 2))  # K > 1: sums over axes
    both = m.polarization_disagreement(a, zk)
    parts = [m.polarization_disagreement(a, zk[:, k]) for k in range(2)]
    assert both.polarization == pytest.approx(sum(p.polarization for p in parts))
    assert both.disagreement == pytest.approx(sum(p.disagreement for p in parts))


def test_musco_fj_equilibrium_identity():
    g = nx.barabasi_albert_graph(40, 2, seed=3)
    a = nx.to_numpy_array(g)
    lap = np.diag(a.sum(1)) - a
    s = rng(6).uniform(-1, 1, 40)
    inv = np.linalg.inv(np.eye(40) + lap)
    z = inv @ s  # FJ equilibrium
    sc = s - s.mean()
    p, d = m.polarization_disagreement(scipy.sparse.csr_matrix(a), z)
    # Musco et al. Lemma 3.2: I(z*) = P + D = s'^T (I+L)^-1 s' = s^T (I+L)^-1 s - n mean(s)^2
    assert p + d == pytest.approx(sc @ inv @ sc)
    assert p + d == pytest.approx(s @ inv @ s - 40 * s.mean() ** 2)
    assert p == pytest.approx(sc @ inv @ inv @ sc)
    assert d == pytest.approx(sc @ inv @ lap @ inv @ sc)


# --------------------------------------------------------------------------- extremity


def test_extremity_and_extreme_share():
    x = np.array([-0.9, 0.1, 0.85, -0.2])
    assert m.extremity(x) == pytest.approx((0.9 + 0.1 + 0.85 + 0.2) / 4)
    assert m.extreme_share(x) == pytest.approx(0.5)
    assert m.extreme_share(x, threshold=0.86) == pytest.approx(0.25)
    xk = np.array([[0.1, -0.9], [0.2, 0.3]])
    assert m.extremity(xk) == pytest.approx((0.9 + 0.3) / 2)
    assert m.extreme_share(xk) == pytest.approx(0.5)


# --------------------------------------------------------------------------- Rastegarpanah et al.


def test_rpol_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 6.0]])  # item variances 1 and 4
    assert m.rpol(pred) == pytest.approx(2.5)
    assert m.rpol(np.ones((5, 3))) == 0.0


def test_unfairness_by_hand():
    loss = np.array([1.0, 2.0, 3.0, 4.0])
    assert m.unfairness_individual(loss) == pytest.approx(1.25)
    pairwise = sum((a - b) ** 2 for a, b in itertools.combinations(loss, 2)) / len(loss) ** 2
    assert m.unfairness_individual(loss) == pytest.approx(pairwise)  # the paper's form
    # two groups: L = 2 and 5, R_grp = (L1 - L2)^2 / 4
    assert m.unfairness_group(np.array([1.0, 3.0, 5.0]), np.array([7, 7, 2])) == pytest.approx(2.25)
    # three groups: variance of the group means 1, 2, 6
    assert m.unfairness_group([1.0, 2.0, 6.0, 6.0], [0, 1, 2, 2]) == pytest.approx(np.var([1, 2, 6]))


def test_unfairness_group_weighted_is_entry_level_mse():
    errors = [np.array([1.0, 3.0]), np.array([2.0]), np.array([0.0, 0.0, 6.0])]  # squared errors
    group = np.array([0, 0, 1])
    user_mse = np.array([e.mean() for e in errors])
    n_obs = np.array([len(e) for e in errors])
    group_loss = [np.mean(np.concatenate([errors[0], errors[1]])), errors[2].mean()]
    assert m.unfairness_group(user_mse, group, weight=n_obs) == pytest.approx(np.var(group_loss))


# --------------------------------------------------------------------------- slates and catalog


def test_intra_list_diversity_by_hand():
    stances = np.array([[-1.0, 0.0, 1.0], [0.5, 0.5, 0.5]])  # distances 1, 2, 1: 8/6 = 4/3; then 0
    assert m.intra_list_diversity(stances) == pytest.approx((4 / 3 + 0) / 2)
    topics = np.eye(3)[[[0, 0, 1]]]  # one-hot: 4 of 6 ordered pairs differ by sqrt(2)
    assert m.intra_list_diversity(topics) == pytest.approx(4 * math.sqrt(2) / 6)
    assert m.intra_list_diversity(np.ones((4, 1, 2))) == 0.0
    assert math.isnan(m.intra_list_diversity(np.zeros((0, 3, 2))))


@pytest.mark.parametrize("d", [1, 3])
def test_intra_list_diversity_matches_pdist_and_chunking(d):
    f = rng(7).normal(size=(50, 6, d))
    expected = np.mean([scipy.spatial.distance.pdist(s).mean() for s in f])
    assert m.intra_list_diversity(f) == pytest.approx(expected)
    assert m.intra_list_diversity(f, chunk_elements=1) == pytest.approx(expected)


def test_topic_entropy():
    assert m.topic_entropy([5, 5, 5, 5]) == pytest.approx(math.log(4))
    assert m.topic_entropy([0, 9, 0]) == 0.0
    assert m.topic_entropy([1, 3, 0]) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert math.isnan(m.topic_entropy([0, 0]))


def test_mean_user_topic_entropy():
    user = np.array([0, 0, 1, 1, 1, 3])
    topic = np.array([0, 1, 2, 2, 2, 1])
    # user 0: log 2; user 1: 0; user 3: 0; user 2 has no events and is left out
    assert m.mean_user_topic_entropy(user, topic, n_users=4, n_topics=3) == pytest.approx(math.log(2) / 3)
    r = rng(8)
    user, topic = r.integers(0, 20, 300), r.integers(0, 5, 300)
    per_user = [m.topic_entropy(np.bincount(topic[user == u], minlength=5)) for u in np.unique(user)]
    assert m.mean_user_topic_entropy(user, topic, 20, 5) == pytest.approx(np.mean(per_user))


def test_coverage_and_gini():
    assert m.coverage([0, 3, 3, 1], n_items=8) == pytest.approx(3 / 8)
    assert m.coverage([], n_items=8) == 0.0
    assert m.gini(np.full(10, 4.0)) == pytest.approx(0.0)
    for n in (1, 2, 10, 1000):
        assert m.gini(np.r_[np.zeros(n - 1), 7.0]) == pytest.approx((n - 1) / n)
    assert m.gini([1.0, 2.0, 3.0]) == pytest.approx(2 / 9)


def test_gini_matches_mean_absolute_difference():
    c = rng(9).exponential(size=200)
    expected = np.abs(c[:, None] - c[None, :]).sum() / (2 * len(c) ** 2 * c.mean())
    assert m.gini(c) == pytest.approx(expected)


# --------------------------------------------------------------------------- homogenization


def test_homogenization_by_hand():
    user = np.array([0, 0, 0, 1, 1])
    item = np.array([1, 2, 2, 2, 3])  # S0 = {1, 2}, S1 = {2, 3}, S2 = S3 = {}
    pairs = np.array([1, 0, 0, 2])
    # J(S0, S1) = J(S1, S0) = 1/3, J(S2, S0) = 0, (S3, S2) both empty: left out
    assert m.homogenization(user, item, 4, pairs) == pytest.approx(2 / 9)
    assert math.isnan(m.homogenization([], [], 4, pairs))


def test_homogenization_matches_sets():
    r = rng(10)
    n = 40
    user, item = r.integers(0, n, 200), r.integers(0, 30, 200)
    pairs = m.nearest_opinion_pairs(r.uniform(-1, 1, n)).numpy()
    sets = [set(item[user == u]) for u in range(n)]
    js = [len(sets[u] & sets[p]) / len(sets[u] | sets[p]) for u, p in enumerate(pairs) if sets[u] | sets[p]]
    assert m.homogenization(user, item, n, pairs) == pytest.approx(np.mean(js))


@pytest.mark.parametrize("k", [1, 3])
def test_nearest_opinion_pairs_brute_force(k):
    x = rng(11).uniform(-1, 1, (300, k))
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    pairs = m.nearest_opinion_pairs(x if k > 1 else x[:, 0], chunk=64).numpy()
    np.testing.assert_allclose(d[np.arange(300), pairs], d.min(axis=1))
    assert (pairs != np.arange(300)).all()


# --------------------------------------------------------------------------- exposure


def test_exposure_measures():
    shown = np.array([0.1, 0.9, 0.5, 0.85])
    assert m.exposure_extremeness(shown) == pytest.approx(0.5875)
    assert m.consumption_extremeness([0.9, 0.5]) == pytest.approx(0.7)
    assert m.extreme_exposure_share(shown) == pytest.approx(0.5)
    now = np.array([0.5, 0.3, np.nan, 0.9, 0.4])
    start = np.array([0.2, 0.3, 0.1, np.nan, 0.35])
    assert m.exposure_drift_share(now, start) == pytest.approx(1 / 3)  # users 0, 1, 4 defined; only 0 rose > 0.1


# --------------------------------------------------------------------------- engagement and accuracy


def test_ctr_engagement_logloss_by_hand():
    labels = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
    assert m.ctr(labels) == pytest.approx(0.4)
    assert m.engagement(labels, n_users=4) == pytest.approx(0.5)
    probs = np.array([0.8, 0.4, 0.0, 1.0, 0.5])
    expected = -(math.log(0.8) + math.log(0.6) + math.log(1 - 1e-7) + math.log(1 - 1e-7) + math.log(0.5)) / 5
    assert m.logloss(labels, probs) == pytest.approx(expected)


def auc_reference(labels: np.ndarray, scores: np.ndarray) -> float:
    pos, neg = scores[labels > 0], scores[labels <= 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auc_brute_force_with_ties():
    r = rng(12)
    labels = r.integers(0, 2, 500)
    scores = r.integers(0, 7, 500) + labels  # many ties
    assert m.auc(labels, scores) == pytest.approx(auc_reference(labels, scores))
    for dtype in (torch.float16, torch.float32, torch.float64):
        real = torch.as_tensor(r.normal(size=500)).round(decimals=1).to(dtype)  # ties, both signs
        assert m.auc(labels, real) == pytest.approx(auc_reference(labels, real.double().numpy()))
    assert m.auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert m.auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert m.auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert math.isnan(m.auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(m.auc([0, 0], [0.1, 0.2]))
    assert m.auc([0, 1, 0, 1], [0.0, -0.0, -1.5, 2.0]) == 0.875  # -0.0 ties with 0.0


# --------------------------------------------------------------------------- properties


@FAST
@given(opinions, st.randoms(use_true_random=False))
def test_permutation_invariance(x, random):
    perm = np.array(random.sample(range(len(x)), len(x)))
    for f in (m.opinion_variance, m.esteban_ray, m.bimodality_coefficient, m.extremity):
        assert f(x) == pytest.approx(f(x[perm]), abs=1e-9, nan_ok=True)
    for f in (m.gini, m.topic_entropy):
        assert f(np.abs(x)) == pytest.approx(f(np.abs(x[perm])), abs=1e-9, nan_ok=True)
    labels = (x > 0).astype(float)
    assert m.auc(labels, x**2) == pytest.approx(m.auc(labels[perm], x[perm] ** 2), nan_ok=True)


@FAST
@given(counts_arrays)
def test_gini_bounds_and_scale_invariance(c):
    g = m.gini(c)
    if c.sum() == 0:
        assert math.isnan(g)
        return
    assert -1e-12 <= g < 1
    assert m.gini(3.5 * c) == pytest.approx(g, abs=1e-9)


@FAST
@given(opinions, st.floats(0.1, 10))
def test_scaling(x, c):
    assert m.opinion_variance(c * x) == pytest.approx(c**2 * m.opinion_variance(x), abs=1e-9)
    assert m.rpol(c * x.reshape(-1, 1)) == pytest.approx(c**2 * m.rpol(x.reshape(-1, 1)), abs=1e-9)
    assert m.unfairness_individual(c * x) == pytest.approx(c**2 * m.unfairness_individual(x), abs=1e-9)
    bc = m.bimodality_coefficient(x)
    assert m.bimodality_coefficient(c * x) == pytest.approx(bc, rel=1e-6, nan_ok=True)  # scale free


@FAST
@given(opinions, st.floats(0, 2))
def test_bounds(x, alpha):
    assert m.esteban_ray(x, alpha=alpha) >= 0
    assert 0 <= m.extreme_share(x) <= 1
    ids = (np.abs(x) * 9).astype(int)
    assert 0 <= m.coverage(ids, 10) <= 1
    a = m.auc(x > 0, np.round(x, 1))
    assert math.isnan(a) or 0 <= a <= 1
    assert m.topic_entropy(np.abs(x) + 1) <= math.log(len(x)) + 1e-9
    assert m.logloss(x > 0, (x + 1) / 2) >= 0


@FAST
@given(opinions)
def test_numpy_and_torch_inputs_agree(x):
    t = torch.as_tensor(x)
    labels = (x > 0).astype(float)
    cases = [
        (m.esteban_ray, (x,)),
        (m.bimodality_coefficient, (x,)),
        (m.opinion_variance, (x.reshape(-1, 2) if len(x) % 2 == 0 else x,)),
        (m.gini, (np.abs(x),)),
        (m.auc, (labels, x**2)),
        (m.logloss, (labels, (x + 1) / 2)),
        (m.intra_list_diversity, (x[: len(x) // 2 * 2].reshape(-1, 2),)),
        (m.homogenization, ((np.abs(x) * 5).astype(int), np.arange(len(x)) % 3, 5, np.array([1, 0, 3, 2, 0]))),
    ]
    for f, args in cases:
        expected = f(*args)
        got = f(*(torch.as_tensor(a) if isinstance(a, np.ndarray) else a for a in args))
        assert got == pytest.approx(expected, nan_ok=True)
        # float32 tensors give the float64 result of the float32-rounded values
        rounded = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a for a in args]
        got32 = f(*(torch.as_tensor(a) if isinstance(a, np.ndarray) else a for a in rounded))
        assert got32 == pytest.approx(f(*rounded), nan_ok=True)
    assert m.polarization_disagreement(path_adjacency(), x[:3]) == pytest.approx(
        tuple(m.polarization_disagreement(torch.as_tensor(path_adjacency()).to_sparse_csr(), t[:3]))
    )


# --------------------------------------------------------------------------- padded-row forms


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 8), st.integers(0, 10_000))
def test_row_forms_equal_brute_force_sets(n, h, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(-1, 9, (n, h), generator=g)
    b = torch.randint(-1, 9, (n, h), generator=g)
    overlaps = []
    for row_a, row_b in zip(a.tolist(), b.tolist()):
        sa, sb = set(row_a) - {-1}, set(row_b) - {-1}
        if sa | sb:
            overlaps.append(len(sa & sb) / len(sa | sb))
    expected = sum(overlaps) / len(overlaps) if overlaps else float("nan")
    assert m.row_jaccard(a, b) == pytest.approx(expected, nan_ok=True)
    topics = torch.where(a >= 0, a % 4, -1)
    entropies = []
    for row in topics.tolist():
        counts = np.bincount([t for t in row if t >= 0], minlength=4)
        if counts.sum():
            p = counts[counts > 0] / counts.sum()
            entropies.append(float(-(p * np.log(p)).sum()))
    expected = sum(entropies) / len(entropies) if entropies else float("nan")
    assert m.row_topic_entropy(topics, 4) == pytest.approx(expected, nan_ok=True)
