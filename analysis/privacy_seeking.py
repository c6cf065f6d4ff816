"""Phenomenon 9, privacy-seeking users and reliable content (Spinelli & Crovella, UMAP 2020
adjunct): figure and table.

    python analysis/privacy_seeking.py RUN_DIR --out DIR

For each feed: the quality q_j (standing for a source's reliability) and extremeness e_j of what
the logged-out and the logged-in users are shown and engage with, averaged over the last 10
steps, and the paired gap logged-out - logged-in (both cohorts live in the same replicate).
Writes DIR/privacy_seeking.png (the four exposure/consumption curves per cohort) and
DIR/privacy_seeking.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from _phenomena import fmt, read, tail_mean, with_note

from simlab.outputs.metric_figures import plot_metric_curves

SCENARIO = "scenarios/privacy_seeking.yaml"
WINDOW = 10
MEASURES = ["exposure_quality", "consumption_quality", "exposure_extremeness", "consumption_extremeness"]


def table(metrics: pd.DataFrame) -> str:
    lines = [
        "| feed | measure | logged out | logged in | logged out - logged in (paired) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for variant in metrics["variant"].unique():
        v = metrics[metrics["variant"] == variant]
        for measure in MEASURES:
            out = tail_mean(v, f"{measure}_logged_out", WINDOW, []).set_index("replicate").iloc[:, 0]
            inn = tail_mean(v, f"{measure}_logged_in", WINDOW, []).set_index("replicate").iloc[:, 0]
            cells = [
                fmt(out, metric=f"{measure}_logged_out"),
                fmt(inn, metric=f"{measure}_logged_in"),
                fmt(out - inn, signed=True, metric=f"{measure}_logged_in"),
            ]
            lines.append(f"| {variant} | {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="where the figure and table go (default RUN_DIR)")
    args = parser.parse_args()
    out = args.out or args.run_dir
    metrics = read(args.run_dir)
    names = [f"{m}_{c}" for m in MEASURES for c in ("logged_out", "logged_in")]
    plot_metric_curves(
        metrics, out, columns=2, names=names, filename="privacy_seeking.png", title="Logged-out vs logged-in users"
    )
    text = with_note(table(metrics), args.run_dir)
    (out / "privacy_seeking.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
