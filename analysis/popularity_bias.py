"""Phenomenon 2, popularity-bias amplification (Mansoury et al., CIKM 2020): figure and table.

    python analysis/popularity_bias.py RUN_DIR --out DIR

Per user group (group 0 = the minority camp in scenarios/popularity_bias.yaml): exposure Gini,
coverage (aggregate diversity) and miscalibration of the shown topic mix against the group's
history (Steck 2018), per feed over time. The table gives final-step means with 95% CIs and the
minority-minus-majority gap per replicate. Writes DIR/popularity_bias.png and DIR/popularity_bias.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _phenomena import CUT, folders, with_note

from simlab.outputs.metric_figures import plot_metric_curves
from simlab.results.intervals import difference_bounds, interval, metric_bounds

SCENARIO = "scenarios/popularity_bias.yaml"
MEASURES = ["exposure_gini", "coverage", "miscalibration"]


def fmt(values: np.ndarray, metric: str, sign: bool = False) -> str:
    """Mean [95% t-interval] over replicates, cut at the range of ``metric`` (of a difference of
    two of its values when ``sign``), † where cut."""
    bounds = difference_bounds(metric_bounds(metric)) if sign else metric_bounds(metric)
    found = interval(values, bounds)
    f = "+.3f" if sign else ".3f"
    cut = CUT if found.clipped else ""
    return "—" if np.isnan(found.mean) else f"{found.mean:{f}} [{found.low:{f}}, {found.high:{f}}]{cut}"


def table(metrics: pd.DataFrame, tail: int = 10) -> str:
    """Means over the last ``tail`` steps of each replicate, then mean and CI over replicates."""
    last = metrics[metrics["step"] > metrics["step"].max() - tail]
    per = last.groupby(["variant", "replicate"]).mean(numeric_only=True).reset_index()
    head = ["variant", "exposure_gini (all)", "coverage (all)"]
    for m in MEASURES:
        head += [f"{m} minority", f"{m} majority", f"{m} gap (min - maj)"]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for variant in metrics["variant"].unique():
        v = per[per["variant"] == variant]
        cells = [
            variant,
            fmt(v["exposure_gini"].to_numpy(), "exposure_gini"),
            fmt(v["coverage"].to_numpy(), "coverage"),
        ]
        for m in MEASURES:
            g0, g1 = v[f"{m}_group0"].to_numpy(), v[f"{m}_group1"].to_numpy()
            cells += [fmt(g0, f"{m}_group0"), fmt(g1, f"{m}_group1"), fmt(g0 - g1, f"{m}_group0", sign=True)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    names = [f"{m}_group{g}" for m in MEASURES for g in (0, 1)]
    plot_metric_curves(
        metrics,
        out,
        columns=2,
        names=names,
        filename="popularity_bias.png",
        title="Popularity bias per user group (group 0: minority camp)",
    )
    text = with_note(table(metrics), run_dir)
    (out / "popularity_bias.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
