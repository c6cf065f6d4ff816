"""Phenomenon 5 (Hosseinmardi et al. 2024), small version: where engagement is about stance
(latent tastes off, ``b_taste 0``) and there is no appetite for extremes (b_ext -2), the
engagement-optimal feed leaves opinions less extreme than a random feed; with a strong appetite
(b_ext 2.5) more extreme. The history reset: wiping half the users' records leaves no lasting
gap between their feed and that of the same users in the paired run whose reset comes only at
the end (the two cohorts differ by chance, so the gap itself is not zero)."""

from __future__ import annotations

import pytest

SIZE = {"population.size": 300, "catalog.size": 400, "steps": 30, "behavior.b_taste": 0.0}


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
    effects = []
    for replicate in range(3):
        final_gap = {}
        for reset_step in (12, 30):  # 30: the cohort is wiped after the last feed (a placebo)
            doc["interventions"] = [{"type": "history_reset", "step": reset_step, "share": 0.5}]
            _, rows = phenomenon.run(doc, replicate)
            assert all(r["exposure_distance_reset"] != r["exposure_distance_reset"] for r in rows[: reset_step - 1])
            final_gap[reset_step] = rows[-1]["exposure_distance_reset"] - rows[-1]["exposure_distance_kept"]
        effects.append(final_gap[12] - final_gap[30])
    # measured: the cohorts' chance gap is about -0.06 on this world; the reset adds |effect| < 0.02
    assert abs(sum(effects) / len(effects)) < 0.04
