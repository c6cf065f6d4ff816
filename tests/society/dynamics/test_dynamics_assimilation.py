"""The default opinion update (docs/design.md §2 step 5) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.core.state import Catalog, Users
from simlab.society.dynamics import Assimilation, NoDynamics
from simlab.society.network import Edges, to_graph

EMPTY = torch.zeros(0, dtype=torch.long)


def make_users(x, mu=0.1, eps=0.4, anchoring=0.0, innate=None) -> Users:
    x = torch.as_tensor(x, dtype=torch.float64)
    x = x[:, None] if x.dim() == 1 else x
    n = x.shape[0]
    full = lambda v: torch.as_tensor(v, dtype=torch.float64).expand(n).clone()  # noqa: E731
    s = x.clone() if innate is None else torch.as_tensor(innate, dtype=torch.float64).reshape(x.shape)
    return Users(
        x, s, full(mu), full(anchoring), full(eps), torch.ones(n, 1), full(0.5), torch.zeros(n, dtype=torch.long)
    )


def make_catalog(stance) -> Catalog:
    y = torch.as_tensor(stance, dtype=torch.float32)
    y = y[:, None] if y.dim() == 1 else y
    m = y.shape[0]
    zeros = torch.zeros(m, dtype=torch.long)
    return Catalog(y, zeros, zeros, torch.zeros(m), zeros, torch.zeros(m), torch.zeros(m), m)


def empty_graph(n: int):
    return to_graph(Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), n), n)


def run(model, users, eu, ei, catalog=None, graph=None, seed=0):
    graph = graph if graph is not None else empty_graph(users.n)
    return model.update(
        users,
        torch.tensor(eu, dtype=torch.long),
        torch.tensor(ei, dtype=torch.long),
        catalog,
        graph,
        torch.Generator().manual_seed(seed),
    )


def test_assimilation_backfire_no_engagement_and_clipping():
    # items: y = 0.2, -0.6, 0.9, 1.0, -1.0; eps = 0.4, rho = 1, beta = 0.5, mu = 0.1
    users = make_users([0.0, 0.5, -0.5, 0.9, 0.98])
    catalog = make_catalog([0.2, -0.6, 0.9, 1.0, -1.0])
    model = Assimilation(Assimilation.Settings(beta_backfire=0.5, rho=1.0))
    out = run(model, users, [0, 0, 1, 3, 3, 4], [0, 1, 1, 2, 3, 4], catalog)
    expected = [
        0.0 + 0.1 * (0.2 + 0.0) / 2,  # d = 0.2 assimilates; d = 0.6 is in the dead zone
        0.5 + 0.1 * (-0.5) * (-0.6 - 0.5),  # d = 1.1 > rho: backfire pushes away from -0.6
        -0.5,  # no engagement
        0.9 + 0.1 * (0.0 + 0.1) / 2,
        1.0,  # 0.98 + 0.1 * 0.5 * 1.98 = 1.079, clipped
    ]
    torch.testing.assert_close(out[:, 0], torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)


def test_euclidean_distance_over_axes():
    catalog = make_catalog([[0.3, 0.4]])  # distance 0.5 from the origin
    inside = run(Assimilation(), make_users([[0.0, 0.0]], eps=0.501), [0], [0], catalog)
    outside = run(Assimilation(), make_users([[0.0, 0.0]], eps=0.499), [0], [0], catalog)
    torch.testing.assert_close(inside, torch.tensor([[0.03, 0.04]], dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(outside, torch.zeros(1, 2, dtype=torch.float64))


def test_social_term_is_degroot_step_and_isolated_users_stay():
    # path 0 - 1 - 2 and isolated node 3, sigma = 0.5
    graph = to_graph(Edges(np.array([0, 1]), np.array([1, 2]), 4), 4)
    users = make_users([0.0, 0.5, -0.5, 0.7])
    out = run(Assimilation(Assimilation.Settings(sigma_social=0.5)), users, [], [], None, graph)
    expected = [0.0 + 0.5 * 0.5, 0.5 + 0.5 * (-0.25 - 0.5), -0.5 + 0.5 * 1.0, 0.7]
    torch.testing.assert_close(out[:, 0], torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)


def test_anchoring_pulls_to_innate():
    users = make_users([0.0, 0.0], anchoring=0.3, innate=[1.0, -1.0])
    out = run(Assimilation(), users, [], [])
    torch.testing.assert_close(out[:, 0], torch.tensor([0.3, -0.3], dtype=torch.float64))


def test_terms_add_up():
    graph = to_graph(Edges(np.array([0]), np.array([1]), 2), 2)
    users = make_users([0.2, -0.2], anchoring=0.1, innate=[0.0, 0.0])
    out = run(Assimilation(Assimilation.Settings(sigma_social=0.2)), users, [0], [0], make_catalog([0.4]), graph)
    x0 = 0.2 + 0.1 * 0.2 + 0.2 * (-0.4) + 0.1 * (-0.2)
    x1 = -0.2 + 0.2 * 0.4 + 0.1 * 0.2
    torch.testing.assert_close(out[:, 0], torch.tensor([x0, x1], dtype=torch.float64), atol=1e-6, rtol=0)


def test_noise_is_seeded_and_has_the_given_scale():
    users = make_users(np.zeros(20_000))
    model = Assimilation(Assimilation.Settings(noise_std=0.05))
    a, b, c = run(model, users, [], [], seed=1), run(model, users, [], [], seed=1), run(model, users, [], [], seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(a.std().item() - 0.05) < 0.002


def test_none_returns_a_copy():
    users = make_users([0.1, 0.2])
    out = run(NoDynamics(), users, [0], [0], make_catalog([1.0]))
    assert torch.equal(out, users.opinion) and out is not users.opinion


finite = st.floats(-1, 1, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    x=st.lists(finite, min_size=1, max_size=8),
    y=st.lists(finite, min_size=1, max_size=5),
    mu=st.floats(0, 3),
    beta=st.floats(0, 5),
    sigma=st.floats(0, 1),
    data=st.data(),
)
def test_output_stays_in_bounds(x, y, mu, beta, sigma, data):
    n, m = len(x), len(y)
    eu = data.draw(st.lists(st.integers(0, n - 1), max_size=10))
    ei = data.draw(st.lists(st.integers(0, m - 1), min_size=len(eu), max_size=len(eu)))
    graph = to_graph(Edges(np.arange(n - 1), np.arange(1, n), n), n)
    model = Assimilation(Assimilation.Settings(beta_backfire=beta, rho=0.5, sigma_social=sigma, noise_std=0.3))
    out = run(model, make_users(x, mu=mu, anchoring=0.5), eu, ei, make_catalog(y), graph)
    assert out.abs().max() <= 1.0 and torch.isfinite(out).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_permutation_equivariance(seed):
    """Relabelling users (engagements and graph alike) relabels the output."""
    rng = np.random.default_rng(seed)
    n, m, e = 12, 6, 15
    x = rng.uniform(-1, 1, (n, 2))
    eu, ei = rng.integers(0, n, e), rng.integers(0, m, e)
    src, dst = rng.integers(0, n, 20), rng.integers(0, n, 20)
    perm = rng.permutation(n)  # new label of user i is perm[i]
    inverse = np.argsort(perm)
    catalog = make_catalog(rng.uniform(-1, 1, (m, 2)))
    model = Assimilation(Assimilation.Settings(beta_backfire=0.3, rho=0.8, sigma_social=0.3))
    base = run(
        model, make_users(x, eps=0.6, anchoring=0.1), eu.tolist(), ei.tolist(), catalog, to_graph(Edges(src, dst, n), n)
    )
    moved = run(
        model,
        make_users(x[inverse], eps=0.6, anchoring=0.1),
        perm[eu].tolist(),
        ei.tolist(),
        catalog,
        to_graph(Edges(perm[src], perm[dst], n), n),
    )
    torch.testing.assert_close(moved, base[inverse], atol=1e-6, rtol=0)


@pytest.mark.parametrize("device", ["cpu"])
def test_float32_users_work(device):
    users = make_users([0.0, 0.5])
    users.opinion = users.opinion.float()
    users.innate = users.innate.float()
    out = run(
        Assimilation(Assimilation.Settings(sigma_social=0.5)),
        users,
        [0],
        [0],
        make_catalog([0.1]),
        to_graph(Edges(np.array([0]), np.array([1]), 2), 2),
    )
    assert out.dtype == torch.float32
