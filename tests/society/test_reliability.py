"""Item reliability r_j (catalog), the users' value of it w_i (population), the behaviour's
b_rel term and the load-time checks that tie them together (issue 26, section 2)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pydantic
import pytest
import torch

import simlab
from simlab.core.errors import ScenarioError
from simlab.society.behavior import EngagementModel
from simlab.society.catalog import CreatorCatalog
from simlab.society.population import UniformPopulation


def _catalog(n: int, seed: int = 0, **settings):
    model = CreatorCatalog(CreatorCatalog.Settings(size=n, **settings))
    return model, model.initial(1, torch.Generator().manual_seed(seed), torch.device("cpu"))


def test_latent_reliability_correlates_with_appeal_as_set():
    # with rho_e = 0 the latent score rho_q z_q + sqrt(1 - rho_q^2) eps is standard normal and
    # its correlation with z_q = Phi^-1(q_j) is rho_q exactly; the sample correlation of n pairs
    # has standard error (1 - rho^2) / sqrt(n) = 0.64 / sqrt(200000) = 0.0014
    n, rho = 200_000, -0.6
    _, catalog = _catalog(n, reliability=True, reliability_appeal=rho, reliability_extremeness=0.0)
    assert catalog.reliability is not None
    latent = torch.special.ndtri(catalog.live("reliability").double())
    z_q = torch.special.ndtri(catalog.live("quality").double())
    r = torch.corrcoef(torch.stack([latent, z_q]))[0, 1]
    assert float(r) == pytest.approx(rho, abs=5 * 0.64 / math.sqrt(n))
    # r_j is then uniform on (0, 1): a fifth of the items below 0.2 (standard error 0.0009)
    assert float((catalog.live("reliability") < 0.2).double().mean()) == pytest.approx(0.2, abs=0.005)


def test_both_correlations_are_the_latent_slopes():
    # z_q and z_e are independent (quality is drawn apart from stance), so the regression of the
    # latent score on them has slopes rho_q and rho_e whatever the variance of z_e
    n = 200_000
    _, catalog = _catalog(n, reliability=True, reliability_appeal=-0.6, reliability_extremeness=-0.4)
    latent = torch.special.ndtri(catalog.live("reliability").double())
    z_q = torch.special.ndtri(catalog.live("quality").double().clamp(1e-7, 1 - 1e-7))
    z_e = torch.special.ndtri(catalog.extremeness.double().clamp(0.01, 0.99))
    design = torch.stack([torch.ones(n, dtype=torch.float64), z_q, z_e], dim=1)
    slopes = torch.linalg.lstsq(design, latent[:, None]).solution[1:, 0]
    torch.testing.assert_close(slopes, torch.tensor([-0.6, -0.4], dtype=torch.float64), atol=0.01, rtol=0)


def test_reliability_off_draws_nothing_and_changes_nothing_else():
    model_off, off = _catalog(300, seed=3)
    model_on, on = _catalog(300, seed=3, reliability=True)
    assert off.reliability is None and on.reliability is not None
    for name in ("stance", "topic", "creator", "quality", "attributes"):
        torch.testing.assert_close(off.live(name), on.live(name), rtol=0, atol=0)
    # new items too: the extra draw comes last in each batch
    g_off, g_on = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    empty = torch.zeros(0, dtype=torch.long)
    new_off, new_on = model_off.new_items(off, empty, 1, g_off), model_on.new_items(on, empty, 1, g_on)
    assert "reliability" not in new_off and new_on["reliability"].shape == (10,)
    for name, value in new_off.items():
        torch.testing.assert_close(value, new_on[name], rtol=0, atol=0)


def test_correlations_beyond_the_unit_disc_are_refused():
    with pytest.raises(pydantic.ValidationError, match=r"reliability_appeal\^2 \+ reliability_extremeness\^2 <= 1"):
        CreatorCatalog.Settings(reliability=True, reliability_appeal=-0.8, reliability_extremeness=-0.8)


def test_reliability_value_is_drawn_last_and_only_when_asked():
    plain = UniformPopulation(UniformPopulation.Settings(size=2000, logged_out=0.3))
    valued = UniformPopulation(UniformPopulation.Settings(size=2000, logged_out=0.3, reliability_value_spread=1.0))
    a = plain.sample(8, torch.Generator().manual_seed(1), "cpu", taste_dims=3)
    b = valued.sample(8, torch.Generator().manual_seed(1), "cpu", taste_dims=3)
    assert a.reliability_value is None and b.reliability_value is not None
    for name in ("opinion", "interests", "activity", "group", "logged_out", "taste"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)
    w = b.reliability_value
    assert float(w.min()) == 0.0  # clipped at 0: users who do not care
    # w = max(0, 1 + N(0, 1)): P(w = 0) = Phi(-1) = 0.1587 (standard error 0.008 for 2000 users)
    assert float((w == 0).double().mean()) == pytest.approx(0.1587, abs=0.03)


def _pair_world(reliability_value):
    users = SimpleNamespace(
        opinion=torch.tensor([[0.0], [0.0]]),
        interests=torch.ones(2, 1),
        taste=None,
        reliability_value=reliability_value,
    )
    catalog = SimpleNamespace(
        stance=torch.tensor([[0.0], [0.0]]),
        topic=torch.zeros(2, dtype=torch.long),
        quality=torch.zeros(2),
        attributes=None,
        reliability=torch.tensor([0.9, 0.2]),
    )
    return users, catalog


def test_reliability_term_of_the_logit_by_hand():
    # users at 0, items at 0, quality 0, one topic with interest 1: the logit without b_rel is
    # b0 + b_align * 1 + 0 + b_topic * 1 = -3 + 2 + 1 = 0
    users, catalog = _pair_world(torch.tensor([2.0, 0.0]))
    user, item = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    base = EngagementModel(EngagementModel.Settings())
    torch.testing.assert_close(base.logit(users, user, catalog, item), torch.zeros(4))
    model = EngagementModel(EngagementModel.Settings(b_rel=1.5))
    # b_rel * w_i * (r_j - 1/2): user 0 (w 2): 1.5 * 2 * 0.4 = 1.2 and 1.5 * 2 * (-0.3) = -0.9;
    # user 1 (w 0) does not mind
    expected = torch.tensor([1.2, -0.9, 0.0, 0.0])
    torch.testing.assert_close(model.logit(users, user, catalog, item), expected)
    # without per-user values every w_i is 1
    users.reliability_value = None
    torch.testing.assert_close(model.logit(users, user, catalog, item), torch.tensor([0.6, -0.45, 0.6, -0.45]))


def _scenario(**overrides):
    doc = {
        "name": "t",
        "steps": 2,
        "population": {"type": "uniform", "size": 20},
        "catalog": {"type": "default", "size": 30},
        "recommender": {"type": "dlrm"},
    }
    for key, value in overrides.items():
        block, _, setting = key.partition(".")
        doc[block] = {**doc.get(block, {}), setting: value} if setting else value
    return doc


def test_b_rel_without_catalog_reliability_is_refused():
    with pytest.raises(ScenarioError, match=r"expected catalog\.reliability: true with b_rel != 0"):
        simlab.load_scenario(_scenario(**{"behavior.type": "default", "behavior.b_rel": 1.0}))
    simlab.load_scenario(_scenario(**{"behavior.type": "default", "behavior.b_rel": 1.0, "catalog.reliability": True}))


def test_history_only_dlrm_with_antidote_is_refused():
    doc = _scenario(**{"recommender.user_id": False, "interventions": [{"type": "antidote"}]})
    with pytest.raises(ScenarioError, match="expected user_id: true with the antidote intervention"):
        simlab.load_scenario(doc)
    doc["recommender"]["user_id"] = True
    simlab.load_scenario(doc)
