"""Phenomenon 9, small version: the platform cannot personalise for logged-out users. Under a
DLRM that learns who engages with what, their feed matches their opinions less closely (opinion
distance d_ij of the shown items) than the logged-in users' feed; under a popularity feed whose
candidates come from sources that treat everybody alike (no social or history candidates, which
read a user's records), the two cohorts' feeds are equally close."""

from __future__ import annotations

import torch


def cohort_gap(phenomenon, recommender: str) -> float:
    """How much closer than the catalog at large the shown items are to the user's opinion
    (mean opinion distance to the live items minus that to the shown items), logged-in minus
    logged-out users, over ten steps (relative to the catalog, so that the cohorts' own opinion
    distributions, which differ by chance, cancel out)."""
    # the world this test was written for: the DLRM with its user-id table, no reliability term
    # (the scenario's reliability world has its own test, test_privacy_reliability.py)
    world = {
        "recommender.user_id": True,
        "behavior.b_q": 1.5,
        "behavior.b_rel": 0.0,
        "catalog.reliability": False,
        "population.reliability_value_spread": 0.0,
    }
    doc = phenomenon.small("privacy_seeking", {"population.size": 300, "catalog.size": 400, "steps": 20, **world})
    doc["recommender"]["type"] = recommender
    if recommender != "dlrm":
        doc["recommender"] = {"type": recommender, "candidates": {"size": 100, "social": 0.0, "history": 0.0}}
    doc["metrics"] = {"include": ["ctr"]}
    sim, _ = phenomenon.run(doc)
    distance = {True: [], False: []}
    for _ in range(10):  # ten more steps, measured from each step's impressions
        sim.step()
        i = sim.context.impressions
        x, stances = sim.users.opinion[i.user], sim.catalog.live("stance")
        shown = (x - sim.catalog.stance[i.item]).abs().mean(dim=1)
        anywhere = (x[:, None, :] - stances[None, :, :]).abs().mean(dim=2).mean(dim=1)
        closer = anywhere - shown
        out = sim.users.logged_out[i.user]
        distance[True].append(closer[out].mean())
        distance[False].append(closer[~out].mean())
    return float(torch.stack(distance[False]).mean()) - float(torch.stack(distance[True]).mean())


def test_logged_out_users_get_a_less_personal_feed_only_from_a_personalising_feed(phenomenon):
    personal, alike = cohort_gap(phenomenon, "dlrm"), cohort_gap(phenomenon, "popularity")
    assert personal > 0.06  # measured +0.124
    assert abs(alike) < 0.04  # measured +0.022
    assert personal > alike + 0.05
