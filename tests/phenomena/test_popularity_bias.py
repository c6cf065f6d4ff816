"""Phenomenon 2 (Mansoury et al. 2020), small version of scenarios/popularity_bias.yaml: the
popularity feed concentrates exposure and narrows coverage for both groups, the minority included."""

import simlab


def test_popularity_feed_concentrates_exposure_per_group(tmp_path):
    result = simlab.run(
        "scenarios/popularity_bias.yaml",
        out=tmp_path / "run",
        replicates=1,
        steps=10,
        quiet=True,
        overrides={
            "population.size": 300,
            "catalog.size": 300,
            "catalog.new_per_step": 5,
            "variants": {"popularity": {}, "random": {"recommender": {"type": "random"}}},
        },
    )
    last = result.metrics[result.metrics["step"] >= 5].groupby("variant").mean(numeric_only=True)
    for g in (0, 1):
        assert last.loc["popularity", f"exposure_gini_group{g}"] > last.loc["random", f"exposure_gini_group{g}"] + 0.1
        assert last.loc["popularity", f"coverage_group{g}"] < last.loc["random", f"coverage_group{g}"] / 2
