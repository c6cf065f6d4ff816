"""Phenomenon 7, supply-side drift: creators that chase engagement raise the supply of extreme
items. Figure and table.

    python analysis/supply_drift.py RUN_DIR --out DIR

supply_extremeness (mean e_j of the items created in the last 10 steps) over time for each
variant (creators drifting or not, under the engagement-optimal and the random feed), and the
final values with the paired difference drift - no drift (replicate r shares its seed). Writes
DIR/supply_drift.png and DIR/supply_drift.md.
"""

from __future__ import annotations

import pandas as pd
from _phenomena import fmt, folders, read, with_note

from simlab.outputs.metric_figures import plot_metric_curves

SCENARIO = "scenarios/supply_drift.yaml"
PAIRS = {"oracle feed": ("no_drift", "drift"), "random feed": ("random_no_drift", "random_drift")}
NAMES = ["supply_extremeness", "exposure_extremeness", "extremity"]


def table(metrics: pd.DataFrame) -> str:
    final = metrics[metrics["step"] == metrics["step"].max()].set_index(["variant", "replicate"])
    lines = [
        "| feed | metric | no drift | drift | drift - no drift (paired) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for feed, (still, moving) in PAIRS.items():
        for name in NAMES:
            a, b = final.loc[still, name], final.loc[moving, name]
            cells = [fmt(a, metric=name), fmt(b, metric=name), fmt(b - a, signed=True, metric=name)]
            lines.append(f"| {feed} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = read(run_dir)
    plot_metric_curves(metrics, out, names=NAMES, filename="supply_drift.png", title="Creators chasing engagement")
    text = with_note(table(metrics), run_dir)
    (out / "supply_drift.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
