"""The README's flagship figure and table from a run folder of scenarios/dlrm_engagement.yaml.

    python analysis/feed_effects.py RUN_DIR --out docs

Writes OUT/<scenario name>.png (for the flagship: docs/dlrm_engagement.png, the README figure):
the six metrics of the table over time, mean and 95% t-interval over replicates per variant,
3 x 2 panels at 1,600 px; and OUT/<scenario name>.md, the README table (printed too): final
step, mean and 95% t-interval over replicates, and each other variant's paired difference to
the first variant, from summary.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml
from _phenomena import with_note

from simlab.outputs.metric_figures import plot_metric_curves
from simlab.running.files import read_metrics

SCENARIO = "scenarios/dlrm_engagement.yaml"
TINY = {"population.size": 300, "catalog.size": 300}  # the test's tiny version (analysis/README.md)
METRICS = ["exposure_extremeness", "opinion_variance", "extremity", "polarization_er", "ctr", "homogenization"]


def table(summary: pd.DataFrame, names: list[str]) -> str:
    """The README table: a row per metric; the first variant's mean [CI], then each other
    variant's mean (paired difference to the first [CI]), 3 decimals."""
    variants = list(dict.fromkeys(summary["variant"]))
    first, others = variants[0], variants[1:]
    rows = [
        "| metric | " + " | ".join([first, *(f"{v} (diff to {first})" for v in others)]) + " |",
        "| --- |" + " --- |" * len(variants),
    ]
    for name in names:
        by_variant = summary[summary["metric"] == name].set_index("variant")
        if not len(by_variant):
            continue
        base = by_variant.loc[first]
        cells = [f"{base['final_mean']:.3f} [{base['ci_low']:.3f}, {base['ci_high']:.3f}]"]
        for v in others:
            r = by_variant.loc[v]
            cells.append(
                f"{r['final_mean']:.3f} ({r['diff_vs_first']:+.3f} [{r['diff_ci_low']:+.3f}, {r['diff_ci_high']:+.3f}])"
            )
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the figure and table (default RUN_DIR/figures)"
    )
    parser.add_argument("--metrics", nargs="+", default=METRICS)
    args = parser.parse_args()
    out = args.out or args.run_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    scenario = yaml.safe_load((args.run_dir / "scenario.yaml").read_text(encoding="utf-8"))
    metrics = read_metrics(args.run_dir / "metrics.csv")
    names = [n for n in args.metrics if n in metrics.columns and metrics[n].notna().any()]
    figure = plot_metric_curves(
        metrics, out, columns=3, names=names, filename=f"{scenario['name']}.png", title=scenario["name"]
    )
    text = with_note(table(pd.read_csv(args.run_dir / "summary.csv", dtype={"variant": str}), names), args.run_dir)
    (out / f"{scenario['name']}.md").write_text(text + "\n", encoding="utf-8")
    print(figure)
    print(text)


if __name__ == "__main__":
    main()
