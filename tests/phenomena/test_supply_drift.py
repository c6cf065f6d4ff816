"""Phenomenon 7, small version: creators that chase engagement under the engagement-optimal feed
(where extreme items engage more) raise the extremeness of what they supply."""

from __future__ import annotations

SIZE = {"population.size": 300, "catalog.size": 400, "steps": 30}


def test_creator_drift_raises_supply_extremeness(phenomenon):
    still = phenomenon.run(phenomenon.small("supply_drift", {**SIZE, "catalog.creator_drift": 0.0}))[1]
    drift = phenomenon.run(phenomenon.small("supply_drift", {**SIZE, "catalog.creator_drift": 0.5}))[1]
    assert still[0]["supply_extremeness"] == drift[0]["supply_extremeness"]  # same catalog at the start
    assert phenomenon.tail(drift, "supply_extremeness") > phenomenon.tail(still, "supply_extremeness") + 0.01
