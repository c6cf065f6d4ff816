"""Phenomenon 1 (Chaney et al. 2018), small version of scenarios/homogenization.yaml: a feed
retrained on its own feedback (popularity) homogenizes consumption more than the ideal (oracle)
recommender, in the cumulative and nearest-consumer forms, without more utility (ctr)."""

import simlab

SMALL = {"population.size": 200, "catalog.size": 300, "catalog.new_per_step": 5}


def test_feedback_loop_homogenizes_beyond_the_ideal(tmp_path):
    result = simlab.run(
        "scenarios/homogenization.yaml",
        out=tmp_path / "run",
        replicates=1,
        steps=15,
        quiet=True,
        overrides={
            **SMALL,
            "variants": {
                "popularity": {"recommender": {"type": "popularity"}},
                "oracle": {"recommender": {"type": "oracle"}},
            },
        },
    )
    final = result.metrics[result.metrics["step"] == 14].set_index("variant")
    for form in ("homogenization_cumulative", "homogenization_chaney"):
        assert final.loc["popularity", form] > final.loc["oracle", form] + 0.02, form
    assert final.loc["popularity", "ctr"] < final.loc["oracle", "ctr"]
