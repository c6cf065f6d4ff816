"""The mitigations in the closed loop: deterministic, resumable, no truth unless privileged, and
each moves a metric it targets in the intended direction at full strength (issue 11)."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch

import simlab
from simlab.core.state import Catalog, Users
from simlab.interventions.base import Truth
from simlab.interventions.calibrated import calibration_kl, history_topics
from simlab.loop.simulation import Simulation
from simlab.platform import candidates as candidate_generation
from simlab.platform.slates import columns_to_items
from simlab.registry import INTERVENTIONS

MITIGATIONS = {
    "mmr": {"type": "mmr", "lam": 0.3},
    "calibrated": {"type": "calibrated", "lam": 0.7},
    "diversity_cap": {"type": "diversity_cap", "cap": 1},
    "extremeness_penalty": {"type": "extremeness_penalty", "weight": 0.5, "noise": 0.2},
    "random_injection": {"type": "random_injection", "share": 0.4},
    "chronological_mix": {"type": "chronological_mix", "share": 0.4},
    "bridging": {"type": "bridging", "weight": 0.5},
}


def scenario(tiny, interventions, recommender="dlrm", steps=6):
    tiny["recommender"] = {"type": recommender, "slate_size": 5, "candidates": {"size": 20}}
    tiny["interventions"] = interventions
    return simlab.load_scenario(tiny, {"steps": steps})


def same(rows, other):
    """Metric rows equal value for value (NaN equals NaN: a metric undefined in both)."""
    return all(
        a.keys() == b.keys()
        and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.values(), b.values()))
        for a, b in zip(rows, other, strict=True)
    )


@pytest.mark.parametrize("name", sorted(MITIGATIONS))
def test_mitigation_is_deterministic_and_resumes_exactly(tiny, name):
    sc = scenario(tiny, [MITIGATIONS[name]])
    straight = Simulation(sc, 1)
    rows = [straight.step() for _ in range(6)]
    again = Simulation(sc, 1)
    assert same([again.step() for _ in range(6)], rows)

    first = Simulation(sc, 1)
    for _ in range(3):
        first.step()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    restored = Simulation(sc, 1)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert same([restored.step() for _ in range(3)], rows[3:])


def test_mitigations_compose_in_list_order(tiny):
    stack = [MITIGATIONS["extremeness_penalty"], MITIGATIONS["mmr"], MITIGATIONS["random_injection"]]
    sim = Simulation(scenario(tiny, stack), 0)
    for _ in range(4):
        sim.step()
    feed = sim.feed
    assert type(feed).__name__ == "RandomInjection"
    assert type(feed.inner).__name__ == "MMR" and type(feed.inner.inner).__name__ == "ExtremenessPenalty"


def test_only_the_classifier_is_privileged_and_the_others_never_hold_the_truth(tiny):
    assert {n for n in MITIGATIONS if INTERVENTIONS.get(n).privileged} == {"extremeness_penalty"}
    sim = Simulation(scenario(tiny, list(MITIGATIONS.values())), 0)
    for _ in range(3):
        sim.step()
    for intervention in sim.interventions:
        held = [v for v in vars(intervention).values() if isinstance(v, Truth | Users | Catalog)]
        if intervention.privileged:
            assert held, type(intervention).__name__
        else:
            assert not held, type(intervention).__name__


# ------------------------------------------------------------------ direction at full strength

FULL = {
    "mmr": {"type": "mmr", "lam": 0.0},
    "calibrated": {"type": "calibrated", "lam": 1.0},
    "diversity_cap": {"type": "diversity_cap", "cap": 1},
    "extremeness_penalty": {"type": "extremeness_penalty", "weight": 1.0, "noise": 0.2},
    "random_injection": {"type": "random_injection", "share": 1.0},
    "chronological_mix": {"type": "chronological_mix", "share": 1.0},
    "bridging": {"type": "bridging", "weight": 1.0},
}


def run_with(tiny, interventions, replicate):
    sim = Simulation(scenario(tiny, interventions, recommender="popularity", steps=8), replicate)
    rows = [sim.step() for _ in range(8)]
    return sim, {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def slate_probe(sim):
    """Slates for every user from fresh candidates (a fixed generator): items (N, k)."""
    users = torch.arange(sim.users.n)
    candidates = candidate_generation.generate(
        sim.view, users, sim.candidate_settings, torch.Generator().manual_seed(0), sim.recommender
    )
    scores = sim.feed.adjust_scores(users, candidates, sim.recommender.score(users, candidates).float())
    return users, columns_to_items(candidates, sim.feed.build_slates(users, candidates, scores, 5))


def test_bridging_lowers_extreme_exposure_where_opinion_is_the_axis_of_disagreement(tiny):
    """Bridging ranks by the intercept of a one-factor model (Community Notes), which discounts
    items whose engagement follows the main axis of disagreement. Where that axis is the opinion
    (a world without latent tastes) it shows less extreme content than the popularity feed; where
    latent tastes divide users more than opinions do (the default world), its factor follows the
    tastes and extreme items are not discounted (measured: 0.519 vs 0.476 without bridging)."""

    def extremeness(taste_dims: int, spec: dict | None) -> float:
        doc = copy.deepcopy(tiny)
        doc["catalog"]["taste_dims"] = taste_dims
        runs = [run_with(copy.deepcopy(doc), [spec] if spec else [], r)[1] for r in range(2)]
        return sum(r["exposure_extremeness"] for r in runs) / 2

    opinion_axis = extremeness(0, None) - extremeness(0, FULL["bridging"])
    taste_axis = extremeness(3, None) - extremeness(3, FULL["bridging"])
    assert opinion_axis > 0.03  # measured 0.055
    assert taste_axis < opinion_axis - 0.03  # measured -0.043


def test_each_mitigation_moves_its_target_metric(tiny):
    """Popularity feed, tiny society, 8 steps, 2 replicates: the step-averaged metric a
    mitigation targets moves the intended way against no mitigation."""
    runs = {}
    for name, spec in {"none": None, **FULL}.items():
        per = [run_with(copy.deepcopy(tiny), [spec] if spec else [], r) for r in range(2)]
        means = {k: sum(m[k] for _, m in per) / 2 for k in per[0][1]}
        runs[name] = (per, means)
    base = runs["none"][1]
    assert runs["mmr"][1]["slate_diversity"] > base["slate_diversity"]
    assert runs["mmr"][1]["topic_entropy"] > base["topic_entropy"]
    assert runs["diversity_cap"][1]["coverage"] > base["coverage"]
    assert runs["extremeness_penalty"][1]["exposure_extremeness"] < base["exposure_extremeness"] - 0.1
    assert runs["random_injection"][1]["coverage"] > base["coverage"] + 0.2

    # at most one item per creator in each slate
    _, slates = slate_probe(runs["diversity_cap"][0][0][0])
    creator = runs["diversity_cap"][0][0][0].catalog.creator[slates]
    assert all(len(set(row)) == len(row) for row in creator.tolist())

    # calibration: the slates' topic mix is closer (in Steck's KL) to the users' history mix
    def mean_kl(sim):
        users, slates = slate_probe(sim)
        topics = int(sim.catalog.live("topic").max()) + 1
        p = history_topics(sim.history[users], sim.catalog.topic, topics)
        q = history_topics(slates, sim.catalog.topic, topics)
        has = p.sum(dim=1) > 0
        return float(calibration_kl(p[has], q[has]).mean())

    assert mean_kl(runs["calibrated"][0][0][0]) < 0.5 * mean_kl(runs["none"][0][0][0])

    # chronological: what is shown is younger
    def shown_age(sim):
        ctx = sim.context
        return float((ctx.step - sim.catalog.created[ctx.slates[ctx.slates >= 0]]).float().mean())

    assert shown_age(runs["chronological_mix"][0][0][0]) < 0.5 * shown_age(runs["none"][0][0][0])
