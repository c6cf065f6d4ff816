"""Phenomenon 4 (Haroon et al. 2023), small version of scenarios/reach_vs_share.yaml: a small
share of extreme impressions reaches a several times larger share of users within the window."""

import simlab


def test_small_share_wide_reach(tmp_path):
    result = simlab.run(
        "scenarios/reach_vs_share.yaml",
        out=tmp_path / "run",
        replicates=1,
        steps=12,
        quiet=True,
        overrides={"population.size": 300, "catalog.size": 300, "catalog.new_per_step": 5, "variants": {"random": {}}},
    )
    m = result.metrics
    share = m[m["step"] > 1]["extreme_exposure_share"].mean()
    reach = m[m["step"] == 11]["extreme_reach"].iloc[0]
    assert share < 0.2
    assert reach > 3 * share
