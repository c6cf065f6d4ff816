"""Phenomenon 3 (Rossi et al. 2018; Perra & Rocha 2019), small version: exploring (epsilon 1,
a random slate) costs engagement and moves opinions less outward than pure personalisation."""

from __future__ import annotations

SIZE = {"population.size": 300, "catalog.size": 400, "steps": 25}


def test_exploration_lowers_ctr_and_extremity(phenomenon):
    small, run, tail = phenomenon.small, phenomenon.run, phenomenon.tail
    greedy = run(small("exploration", {**SIZE, "recommender.policy.epsilon": 0.0}))[1]
    explore = run(small("exploration", {**SIZE, "recommender.policy.epsilon": 1.0}))[1]
    assert tail(greedy, "ctr") > tail(explore, "ctr") + 0.02
    assert greedy[-1]["extremity"] > explore[-1]["extremity"] + 0.02
    assert greedy[-1]["exposure_extremeness"] > explore[-1]["exposure_extremeness"]
