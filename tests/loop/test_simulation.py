"""The closed loop's parts against hand-computed values, and determinism."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

import simlab
from simlab.config import CandidateSettings
from simlab.core.state import Catalog, ImpressionLog, Users
from simlab.loop.simulation import Simulation
from simlab.platform.candidates import first_occurrence, split_sizes
from simlab.registry import POLICIES
from simlab.society.behavior import EngagementModel


def _users(opinion, interests=None) -> Users:
    x = torch.tensor(opinion, dtype=torch.float32).reshape(len(opinion), -1)
    n = x.shape[0]
    theta = torch.tensor(interests) if interests is not None else torch.full((n, 2), 0.5)
    return Users(
        x,
        x.clone(),
        torch.full((n,), 0.1),
        torch.zeros(n),
        torch.full((n,), 0.5),
        theta,
        torch.ones(n),
        torch.zeros(n, dtype=torch.long),
    )


def _catalog(stance, topic, quality) -> Catalog:
    y = torch.tensor(stance, dtype=torch.float32).reshape(len(stance), -1)
    m = y.shape[0]
    zeros = torch.zeros(m, dtype=torch.long)
    return Catalog(
        y, torch.tensor(topic), zeros.clone(), torch.tensor(quality), zeros.clone(), zeros.clone(), zeros.clone(), m
    )


def test_response_probability_matches_design_formula():
    settings = EngagementModel.Settings(
        b0=-1.0, b_align=2.0, b_ext=1.5, b_topic=0.7, b_q=0.4, eta=1.0, appetite0=0.2, appetite1=0.5
    )
    model = EngagementModel(settings)
    users = _users([[0.6], [-0.2]], [[0.9, 0.1], [0.3, 0.7]])
    catalog = _catalog([[0.8], [-0.4]], [1, 0], [0.5, 0.25])
    user, item, position = torch.tensor([0, 1, 0]), torch.tensor([0, 1, 1]), torch.tensor([0, 2, 4])
    got = model.probability(users, user, catalog, item, position)

    def by_hand(x, y, theta_topic, q, r):
        appetite = 0.2 + 0.5 * abs(x)
        z = -1.0 + 2.0 * (1 - abs(x - y) / 2) + 1.5 * appetite * abs(y) + 0.7 * theta_topic + 0.4 * q
        return (1 + r) ** -1.0 / (1 + math.exp(-z))

    expected = [by_hand(0.6, 0.8, 0.1, 0.5, 0), by_hand(-0.2, -0.4, 0.3, 0.25, 2), by_hand(0.6, -0.4, 0.9, 0.25, 4)]
    assert got.tolist() == pytest.approx(expected, rel=1e-6)


def test_taste_term_matches_design_formula_and_is_absent_without_tastes():
    settings = EngagementModel.Settings(b0=-1.0, b_align=2.0, b_ext=0.0, b_topic=0.0, b_q=0.0, b_taste=1.5, eta=0.5)
    model = EngagementModel(settings)
    users = _users([[0.0], [0.5]])
    catalog = _catalog([[0.0], [0.5]], [0, 1], [0.0, 0.0])
    user, item, position = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0, 3])
    without = model.probability(users, user, catalog, item, position)
    users.taste = torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, -1.0, 0.0, 1.0]])
    catalog.attributes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [1.0, 0.0, -1.0, 2.0]])
    got = model.probability(users, user, catalog, item, position)

    def by_hand(x, y, match, r):
        z = -1.0 + 2.0 * (1 - abs(x - y) / 2) + 1.5 * match / math.sqrt(4)
        return (1 + r) ** -0.5 / (1 + math.exp(-z))

    # u_0 . v_1 = 1 - 2 = -1; u_1 . v_0 = -0.5 + 0.5 = 0
    assert got.tolist() == pytest.approx([by_hand(0.0, 0.5, -1.0, 0), by_hand(0.5, 0.0, 0.0, 3)], rel=1e-6)
    assert without.tolist() == pytest.approx([by_hand(0.0, 0.5, 0.0, 0), by_hand(0.5, 0.0, 0.0, 3)], rel=1e-6)


def test_latent_attributes_follow_their_creator_and_have_unit_variance():
    from simlab.society.catalog import CreatorCatalog
    from simlab.society.population import UniformPopulation

    catalog_model = CreatorCatalog(CreatorCatalog.Settings(size=20000, creators=400, taste_dims=3))
    catalog = catalog_model.initial(1, torch.Generator().manual_seed(0), torch.device("cpu"))
    attributes = catalog.live("attributes")
    assert attributes.shape == (20000, 3)
    assert attributes.var(dim=0).tolist() == pytest.approx([1.0] * 3, abs=0.25)
    # an item's attributes sit near its creator's: within-creator spread is spread^2 / (1 + spread^2)
    creator = catalog.live("creator")
    within = torch.stack([attributes[creator == c].var(dim=0).mean() for c in range(400)]).mean()
    assert float(within) == pytest.approx(0.25**2 / (1 + 0.25**2), rel=0.15)
    population = UniformPopulation(UniformPopulation.Settings(size=3000))
    users = population.sample(4, torch.Generator().manual_seed(1), "cpu", 3)
    assert users.taste is not None and users.taste.shape == (3000, 3)
    assert users.taste.std().item() == pytest.approx(1.0, abs=0.05)
    # without latent tastes nothing is drawn: the other draws are those of a world without them
    plain = population.sample(4, torch.Generator().manual_seed(1), "cpu")
    assert plain.taste is None and torch.equal(plain.opinion, users.opinion)
    flat = CreatorCatalog(CreatorCatalog.Settings(size=4000, creators=20, taste_dims=0))
    assert flat.initial(1, torch.Generator().manual_seed(0), torch.device("cpu")).attributes is None


def test_interest_drift_moves_toward_consumed_topics():
    model = EngagementModel(EngagementModel.Settings(interest_drift=0.25))
    users = _users([[0.0], [0.0]], [[0.5, 0.5], [0.5, 0.5]])
    catalog = _catalog([[0.0], [0.0]], [1, 0], [0.5, 0.5])
    model.drift_interests(users, torch.tensor([0, 0]), torch.tensor([0, 0]), catalog)
    assert users.interests[0].tolist() == pytest.approx([0.375, 0.625])  # 0.75*0.5 + 0.25*[0, 1]
    assert users.interests[1].tolist() == pytest.approx([0.5, 0.5])  # did not engage


def test_catalog_growth_appends_and_keeps_rows():
    catalog = _catalog([[0.1], [0.2]], [0, 1], [0.3, 0.4])
    before = catalog.stance[:2].clone()
    ids = catalog.append(
        stance=torch.tensor([[0.5], [0.6], [0.7]]),
        topic=torch.tensor([1, 1, 0]),
        creator=torch.zeros(3, dtype=torch.long),
        quality=torch.ones(3),
        created=torch.full((3,), 4),
    )
    assert ids.tolist() == [2, 3, 4]
    assert catalog.size == 5 and catalog.capacity >= 5
    assert torch.equal(catalog.stance[:2], before)
    assert catalog.live("created").tolist() == [0, 0, 4, 4, 4]
    assert catalog.extremeness.tolist() == pytest.approx([0.1, 0.2, 0.5, 0.6, 0.7])


def test_new_items_per_step_grow_the_simulated_catalog(tiny):
    sim = Simulation(simlab.load_scenario(tiny), 0)
    start = sim.catalog.size
    for _ in range(3):
        sim.step()
    assert sim.catalog.size == start + 3 * 5
    assert sim.catalog.live("created")[-5:].tolist() == [3] * 5


def test_impression_log_is_bounded_and_keeps_the_newest():
    log = ImpressionLog(capacity=5, n_dense=2, history=3, device=torch.device("cpu"))
    for step in range(3):
        users = torch.arange(3) + 10 * step
        log.append(
            user=users,
            item=users,
            position=torch.zeros(3, dtype=torch.long),
            label=torch.ones(3),
            step=torch.full((3,), step),
            dense=torch.zeros(3, 2),
            history=torch.full((3, 3), -1),
        )
    assert len(log) == 5 and log.cursor == 9
    assert log.rows().user.tolist() == [11, 12, 20, 21, 22]
    assert log.rows(since_step=2).user.tolist() == [20, 21, 22]
    assert log.rows(since_step=1).user.tolist() == [11, 12, 20, 21, 22]  # step 1 partly overwritten
    assert log.rows(since_step=3).user.tolist() == []
    restored = ImpressionLog(capacity=5, n_dense=2, history=3, device=torch.device("cpu"))
    restored.load_state_dict(log.state_dict())
    assert restored.rows(since_step=2).user.tolist() == [20, 21, 22]


def test_history_keeps_the_last_h_engagements_newest_last(tiny):
    tiny["recommender"]["history_length"] = 3
    sim = Simulation(simlab.load_scenario(tiny), 0)
    sim.history[0] = torch.tensor([-1, 7, 8])
    sim._remember(torch.tensor([0, 1, 0, 0]), torch.tensor([11, 21, 12, 13]))
    assert sim.history[0].tolist() == [11, 12, 13]
    assert sim.history[1].tolist() == [-1, -1, 21]
    sim._remember(torch.tensor([1]), torch.tensor([22]))
    assert sim.history[1].tolist() == [-1, 21, 22]


def test_first_occurrence_marks_repeats():
    rows = torch.tensor([[3, 1, 3, 2, 1], [4, 4, 4, 4, 4]])
    assert first_occurrence(rows).tolist() == [[True, True, False, True, False], [True, False, False, False, False]]


def test_candidate_split_adds_up():
    sizes = split_sizes(CandidateSettings(size=7, recent=1, popular=1, random=1, social=0, history=0))
    assert sum(sizes.values()) == 7 and set(sizes) == {"recent", "popular", "random"}


def test_policies():
    g = torch.Generator().manual_seed(0)
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.3]])
    assert POLICIES.build({"type": "top_k"}).select(scores, 2, g).tolist() == [[1, 2]]
    greedy = POLICIES.build({"type": "epsilon_greedy", "epsilon": 0.0}).select(scores.expand(200, 4), 2, g)
    assert (greedy == torch.tensor([1, 2])).all()
    explored = POLICIES.build({"type": "epsilon_greedy", "epsilon": 0.5}).select(scores.expand(4000, 4), 1, g)
    # with prob 1/2 top-1, else uniform: P(best) = 0.5 + 0.5/4
    assert (explored == 1).float().mean().item() == pytest.approx(0.625, abs=0.03)
    softmax = POLICIES.build({"type": "softmax", "temperature": 1.0})
    soft = softmax.select(torch.log(torch.tensor([[0.7, 0.2, 0.1]])).expand(6000, 3), 1, g)
    freq = torch.bincount(soft.reshape(-1), minlength=3).float() / 6000
    assert freq.tolist() == pytest.approx([0.7, 0.2, 0.1], abs=0.03)


def test_recommender_never_sees_true_opinions(tiny):
    sim = Simulation(simlab.load_scenario(tiny), 0)
    view_fields = {name for name in vars(sim.view)}
    assert "users" not in view_fields
    assert not any(t is sim.users.opinion for t in vars(sim.view).values())
    assert not hasattr(sim.view, "item_stance")


def test_counters_match_impressions(tiny):
    sim = Simulation(simlab.load_scenario(tiny), 0)
    for _ in range(3):
        sim.step()
    rows = sim.log.rows()
    assert int(sim.user_impressions.sum()) == len(rows.user) == int(sim.catalog.impressions.sum())
    assert int(sim.user_engagements.sum()) == int(rows.label.sum()) == int(sim.catalog.engagements.sum())


def _metrics(doc, tmp_path, name):
    return simlab.run(doc, out=tmp_path / name, quiet=True).metrics


def test_same_seed_same_numbers_different_seed_differs(tiny, tmp_path):
    first = _metrics(tiny, tmp_path, "a")
    second = _metrics(tiny, tmp_path, "b")
    pd.testing.assert_frame_equal(first, second)
    assert (tmp_path / "a" / "metrics.csv").read_bytes() == (tmp_path / "b" / "metrics.csv").read_bytes()
    tiny["seed"] = 4
    third = _metrics(tiny, tmp_path, "c")
    assert not first["opinion_mean"].equals(third["opinion_mean"])


def test_variants_are_paired_by_seed(tiny, tmp_path):
    tiny["variants"] = {"a": {}, "b": {"recommender": {"type": "random"}}}
    sim_a = Simulation(simlab.load_scenario(tiny).tasks()[0][1], 1)
    sim_b = Simulation(simlab.load_scenario(tiny).tasks()[1][1], 1)
    # same replicate index: the same society before the feeds differ
    assert torch.equal(sim_a.users.opinion, sim_b.users.opinion)
    assert torch.equal(sim_a.graph.src, sim_b.graph.src)
    assert sim_b.recommender.__class__.__name__ == "RandomRecommender"
    assert sim_b.loop.slate_size == 5  # loop settings survive the type change


@pytest.mark.parametrize("recommender", ["random", "popularity", "chronological", "oracle", "dlrm", "als"])
def test_a_step_with_no_active_users(tiny, recommender):
    tiny["population"]["activity"] = 0.0
    tiny["recommender"]["type"] = recommender
    sim = Simulation(simlab.load_scenario(tiny), 0)
    row = sim.step()
    assert row["ctr"] != row["ctr"]  # NaN: no impressions
    assert row["coverage"] == 0.0
    assert sim.t == 1
