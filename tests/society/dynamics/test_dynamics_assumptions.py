"""The default opinion update's switchable assumptions (docs/assumptions.md): exposure effects and
bounded dynamics, against hand-computed values; and the loop hands exposures only to a model
that declares it reads them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from simlab.core.state import Catalog, Users
from simlab.society.dynamics import Assimilation, BiasedAssimilation, DeGroot
from simlab.society.network import Edges, to_graph

LONG = torch.long


def make_users(x, mu=0.1, eps=0.4) -> Users:
    x = torch.as_tensor(x, dtype=torch.float64)[:, None]
    n = x.shape[0]
    full = lambda v: torch.full((n,), v, dtype=torch.float64)  # noqa: E731
    return Users(x, x.clone(), full(mu), full(0.0), full(eps), torch.ones(n, 1), full(0.5), torch.zeros(n, dtype=LONG))


def make_catalog(stance) -> Catalog:
    y = torch.as_tensor(stance, dtype=torch.float32)[:, None]
    m = y.shape[0]
    zeros = torch.zeros(m, dtype=LONG)
    return Catalog(y, zeros, zeros, torch.zeros(m), zeros, torch.zeros(m), torch.zeros(m), m)


def update(settings: Assimilation.Settings, users, engaged, exposed=None, catalog=None):
    graph = to_graph(Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), users.n), users.n)
    kwargs = {}
    if exposed is not None:
        kwargs = {
            "exposed_user": torch.tensor(exposed[0], dtype=LONG),
            "exposed_item": torch.tensor(exposed[1], dtype=LONG),
        }
    return Assimilation(settings).update(
        users,
        torch.tensor(engaged[0], dtype=LONG),
        torch.tensor(engaged[1], dtype=LONG),
        catalog,
        graph,
        torch.Generator().manual_seed(0),
        **kwargs,
    )[:, 0]


CATALOG = make_catalog([0.2, -0.6, 0.9])


def test_exposure_adds_a_weighted_pull_of_every_shown_item():
    # user 0 at 0 engaged with item 0 (y = 0.2), was shown items 0 and 1 (y = -0.6 is beyond
    # eps = 0.4: dead zone, w = 0) and item 2 (0.9 > rho = 0.8: backfire with beta = 0.5);
    # user 1 at 0.5 engaged with nothing and was shown item 2 (d = 0.4 <= eps: assimilates)
    users = make_users([0.0, 0.5])
    settings = Assimilation.Settings(exposure_weight=0.5, beta_backfire=0.5, rho=0.8)
    got = update(settings, users, ([0], [0]), ([0, 0, 0, 1], [0, 1, 2, 2]), CATALOG)
    mu, omega = 0.1, 0.5
    exposure0 = (0.2 + 0.0 + (-0.5) * 0.9) / 3
    expected = [0.0 + mu * 0.2 + omega * mu * exposure0, 0.5 + omega * mu * (0.9 - 0.5)]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)


def test_zero_exposure_weight_ignores_the_impressions():
    users = make_users([0.0, 0.5])
    with_impressions = update(Assimilation.Settings(), users, ([0], [0]), ([0, 1], [1, 2]), CATALOG)
    without = update(Assimilation.Settings(), users, ([0], [0]), None, CATALOG)
    assert torch.equal(with_impressions, without)
    assert Assimilation.Settings().exposure_weight == 0.0 and Assimilation.Settings().bounds == "clip"


def test_bounded_scales_the_step_by_one_minus_x_squared():
    # user at 0.5 engages with 0.9 (d = 0.4 <= eps): step mu * 0.4 = 0.04, scaled by 1 - 0.25;
    # user at 0.95 engages with 0.9 (pull -0.05) scaled by 1 - 0.9025
    users = make_users([0.5, 0.95])
    got = update(Assimilation.Settings(bounds="bounded"), users, ([0, 1], [2, 2]), None, CATALOG)
    expected = [0.5 + 0.75 * 0.1 * 0.4, 0.95 + (1 - 0.95**2) * 0.1 * (0.9 - 0.95)]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)


def test_bounded_keeps_users_off_the_end_where_clip_piles_them():
    # a large susceptibility: clip puts the user at exactly 1, bounded leaves room
    users = make_users([0.9], mu=1.0, eps=2.0)
    catalog = make_catalog([1.0])
    clipped = update(Assimilation.Settings(), users, ([0], [0]), None, catalog)
    bounded = update(Assimilation.Settings(bounds="bounded"), users, ([0], [0]), None, catalog)
    assert clipped.item() == 1.0
    assert bounded.item() == pytest.approx(0.9 + 0.19 * 0.1)


def test_only_assimilation_declares_it_reads_exposure():
    assert Assimilation.reads_exposure
    assert not DeGroot.reads_exposure and not BiasedAssimilation.reads_exposure
