"""Phenomenon 5 (Hosseinmardi et al. 2024), small version: with no appetite for extremes
(b_ext -2) the engagement-optimal feed leaves opinions less extreme than a random feed; with a
strong appetite (b_ext 2.5) more extreme. The history reset: wiping half the users' records
leaves no lasting gap between their feed and the control's."""

from __future__ import annotations

import pytest

SIZE = {"population.size": 300, "catalog.size": 400, "steps": 30}


def _extremity(phenomenon, feed: str, b_ext: float) -> float:
    """Final extremity averaged over two paired replicates."""
    doc = phenomenon.small("moderation", {**SIZE, "recommender.type": feed, "behavior.b_ext": b_ext})
    return sum(phenomenon.run(doc, r)[1][-1]["extremity"] for r in range(2)) / 2


@pytest.mark.slow
def test_the_engagement_optimal_feed_moderates_only_without_an_appetite_for_extremes(phenomenon):
    assert _extremity(phenomenon, "oracle", -2.0) < _extremity(phenomenon, "random", -2.0) - 0.02
    assert _extremity(phenomenon, "oracle", 2.5) > _extremity(phenomenon, "random", 2.5) + 0.02


@pytest.mark.slow
def test_a_history_reset_leaves_no_lasting_gap(phenomenon):
    doc = phenomenon.small("history_reset", {"population.size": 300, "catalog.size": 400, "steps": 30})
    doc["interventions"] = [{"type": "history_reset", "step": 12, "share": 0.5}]
    _, rows = phenomenon.run(doc)
    assert all(r["exposure_distance_reset"] != r["exposure_distance_reset"] for r in rows[:11])  # NaN before
    gap = [r["exposure_distance_reset"] - r["exposure_distance_kept"] for r in rows[-10:]]
    assert abs(sum(gap) / len(gap)) < 0.05
