"""The logged-out cohort: the platform sees those users under one anonymous id, with an empty
history and zero counters, and logs exactly that (Spinelli & Crovella 2020's privacy-seeking users)."""

from __future__ import annotations

import pytest
import torch

import simlab
from simlab.core.errors import ScenarioError
from simlab.loop.simulation import Simulation
from simlab.society.population import UniformPopulation


def _scenario(tiny, share: float, recommender: str = "dlrm", steps: int = 6):
    tiny["population"] = {"type": "uniform", "size": 60, "activity": 0.9, "logged_out": share}
    tiny["recommender"] = {
        "type": recommender,
        "slate_size": 5,
        # every source, social and history included, must cope with the anonymous id
        "candidates": {"size": 20, "recent": 0.2, "popular": 0.2, "random": 0.2, "social": 0.2, "history": 0.2},
    }
    return simlab.load_scenario(tiny, {"steps": steps})


def test_population_draws_the_cohort_last_and_exactly():
    def sample(share: float):
        population = UniformPopulation(UniformPopulation.Settings(size=101, logged_out=share))
        return population.sample(4, torch.Generator().manual_seed(5), "cpu")

    none, some = sample(0.0), sample(0.3)
    assert int(some.logged_out.sum()) == round(0.3 * 101) == 30
    assert not bool(none.logged_out.any())
    # drawn after everything else: the users themselves are the same as without a cohort
    for name in ("opinion", "interests", "group", "activity"):
        assert torch.equal(getattr(none, name), getattr(some, name)), name


def test_the_platform_sees_one_anonymous_id_with_empty_records(tiny):
    sim = Simulation(_scenario(tiny, 0.25), 0)
    n, out = sim.users.n, sim.users.logged_out
    view = sim.view
    assert view.n_users == n + 1 and view.anonymous_id == n
    seen_by_model: list[torch.Tensor] = []
    score = sim.recommender.score

    def spy(users, candidates):
        seen_by_model.append(users.clone())
        return score(users, candidates)

    sim.recommender.score = spy  # type: ignore[method-assign]
    for _ in range(6):
        sim.step()
    seen = torch.cat(seen_by_model)
    assert bool((seen == n).any()), "logged-out users reach the model as the anonymous id"
    assert not bool(torch.isin(seen, torch.nonzero(out).squeeze(1)).any()), "never under their own id"
    # the platform's records of logged-out users and of the anonymous id stay empty
    silent = torch.cat([torch.nonzero(out).squeeze(1), torch.tensor([n])])
    assert bool((view.history[silent] == -1).all())
    assert int(view.user_impressions[silent].sum()) == int(view.user_engagements[silent].sum()) == 0
    # logged-in users are recorded as before: their counters count exactly their logged rows
    log = sim.log.rows()
    logged_in = log.user != n
    assert int(view.user_impressions.sum()) == int(logged_in.sum())
    assert int(view.user_engagements.sum()) == int(log.label[logged_in].sum())
    assert bool(view.history[torch.nonzero(~out).squeeze(1)].ge(0).any())


def test_the_log_records_what_the_platform_saw(tiny):
    sim = Simulation(_scenario(tiny, 0.25), 0)
    n = sim.users.n
    for _ in range(6):
        sim.step()
    log = sim.log.rows()
    anonymous = log.user == n
    assert bool(anonymous.any())
    assert int(log.user.max()) == n and not bool(torch.isin(log.user, torch.nonzero(sim.users.logged_out)).any())
    assert bool((log.history[anonymous] == -1).all())
    # zero counters: log1p(0), log1p(0) and the smoothed CTR (0 + 1) / (0 + 2)
    expected = torch.tensor([0.0, 0.0, 0.5])
    assert torch.allclose(log.dense[anonymous][:, :3], expected.expand(int(anonymous.sum()), 3))


@pytest.mark.parametrize("recommender", ["als", "popularity", "random"])
def test_other_recommenders_run_with_a_cohort(tiny, recommender):
    sim = Simulation(_scenario(tiny, 0.5, recommender), 0)
    rows = [sim.step() for _ in range(4)]
    assert rows[-1]["exposure_quality_logged_out"] == rows[-1]["exposure_quality_logged_out"]  # not NaN


def test_no_cohort_means_no_anonymous_id(tiny):
    sim = Simulation(_scenario(tiny, 0.0), 0)
    assert sim.view.n_users == sim.users.n and sim.view.anonymous_id is None
    users = torch.arange(5)
    assert sim.view.platform_users(users) is users
    row = sim.step()
    assert row is not None and row["exposure_quality_logged_out"] != row["exposure_quality_logged_out"]  # NaN


def test_the_oracle_cannot_serve_logged_out_users(tiny):
    tiny["population"] = {"type": "uniform", "size": 60, "logged_out": 0.2}
    tiny["recommender"] = {"type": "oracle"}
    with pytest.raises(ScenarioError, match="logged_out"):
        simlab.load_scenario(tiny)
