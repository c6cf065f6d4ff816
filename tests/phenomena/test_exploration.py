"""Phenomenon 3 (Rossi et al. 2018; Perra & Rocha 2019), small version: exploring (epsilon 1,
a random slate) costs engagement in every regime; it moves opinions less outward than pure
personalisation where engagement follows the extremity appetite (no latent tastes), and that
effect shrinks where latent tastes drive engagement (the default world)."""

from __future__ import annotations

SIZE = {"population.size": 300, "catalog.size": 400, "steps": 25}


def test_exploration_lowers_ctr_everywhere_and_extremity_where_appetite_drives_engagement(phenomenon):
    small, run, tail = phenomenon.small, phenomenon.run, phenomenon.tail
    push = {}
    for b_taste in (0.0, 3.0):
        world = {**SIZE, "behavior.b_taste": b_taste}
        greedy = run(small("exploration", {**world, "recommender.policy.epsilon": 0.0}))[1]
        explore = run(small("exploration", {**world, "recommender.policy.epsilon": 1.0}))[1]
        assert tail(greedy, "ctr") > tail(explore, "ctr") + 0.1  # measured +0.16 / +0.25
        assert greedy[-1]["exposure_extremeness"] > explore[-1]["exposure_extremeness"]
        push[b_taste] = greedy[-1]["extremity"] - explore[-1]["extremity"]
    assert push[0.0] > 0.05  # measured +0.089
    assert push[3.0] < push[0.0] - 0.03  # measured +0.011
