"""Phenomenon 4, reach versus share (Haroon et al., PNAS 2023): figure and table.

    python analysis/reach_vs_share.py RUN_DIR --out DIR

Beside each other: the share of impressions that are extreme (``extreme_exposure_share``,
averaged over the reach window so both cover the same steps) and the share of users shown at
least one extreme item within that window (``extreme_reach``). Writes DIR/reach_vs_share.png and
DIR/reach_vs_share.md (means over the last window of steps, 95% CI over replicates).
"""

from __future__ import annotations

import pandas as pd
from _phenomena import fmt, folders, with_note

from simlab.outputs.metric_figures import plot_metric_curves

SCENARIO = "scenarios/reach_vs_share.yaml"
WINDOW = 10  # extreme_reach's window in the scenario


def table(metrics: pd.DataFrame) -> str:
    last = metrics["step"].max()
    rows = [
        "| variant | extreme share of impressions | extreme reach (share of users) | reach / share |",
        "| --- | --- | --- | --- |",
    ]
    for variant in metrics["variant"].unique():
        v = metrics[metrics["variant"] == variant]
        window = v[v["step"] > last - WINDOW].groupby("replicate")["extreme_exposure_share"].mean().to_numpy()
        reach = v[v["step"] == last].sort_values("replicate")["extreme_reach"].to_numpy()
        cells = [
            fmt(window, metric="extreme_exposure_share"),
            fmt(reach, metric="extreme_reach"),
            fmt(reach / window, bounds=(0.0, float("inf"))),  # a ratio of two shares
        ]
        rows.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    plot_metric_curves(
        metrics,
        out,
        names=["extreme_exposure_share", "extreme_reach", "exposure_extremeness"],
        filename="reach_vs_share.png",
        title="Extreme items: share of impressions vs reach of users",
    )
    text = with_note(table(metrics), run_dir)
    (out / "reach_vs_share.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
