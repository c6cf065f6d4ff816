"""Turn a run folder into the research figure and table used in the README.

    python analysis/feed_effects.py RUN_DIR [--metrics extremity exposure_extremeness ...]

Writes RUN_DIR/figures/feed_effects.png (selected metrics over time, mean and 95% band across
replicates, one line per variant) and prints a Markdown table of final values with 95% CIs and
the paired difference to the first variant (from summary.csv).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from simlab.outputs.plotting import plot_metric_curves

DEFAULT = ["extremity", "opinion_variance", "exposure_extremeness", "ctr", "coverage", "homogenization"]


def table(summary: pd.DataFrame, names: list[str]) -> str:
    rows = ["| metric | variant | final mean [95% CI] | paired diff to first [95% CI] |", "| --- | --- | --- | --- |"]
    for name in names:
        for _, r in summary[summary["metric"] == name].iterrows():
            rows.append(
                f"| {name} | {r['variant']} | {r['final_mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] | "
                f"{r['diff_vs_first']:+.3f} [{r['diff_ci_low']:+.3f}, {r['diff_ci_high']:+.3f}] |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--metrics", nargs="+", default=DEFAULT)
    args = parser.parse_args()
    metrics = pd.read_csv(args.run_dir / "metrics.csv")
    names = [n for n in args.metrics if n in metrics.columns]
    figures = args.run_dir / "figures"
    figures.mkdir(exist_ok=True)
    print(plot_metric_curves(metrics, figures, columns=len(names), names=names, filename="feed_effects.png"))
    print(table(pd.read_csv(args.run_dir / "summary.csv"), names))


if __name__ == "__main__":
    main()
