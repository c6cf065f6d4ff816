"""Turn a run folder into the research figure and table used in the README.

    python analysis/feed_effects.py RUN_DIR [--metrics extremity exposure_extremeness ...]

Writes RUN_DIR/figures/feed_effects.png (selected metrics over time, mean and 95% band across
replicates, one line per variant) and prints a Markdown table of final values with 95% CIs and
the paired difference to the first variant (from summary.csv).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

DEFAULT = ["extremity", "opinion_variance", "exposure_extremeness", "ctr", "coverage", "homogenization"]


def figure(metrics: pd.DataFrame, names: list[str], out: Path) -> Path:
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        for variant, frame in metrics.groupby("variant", sort=False):
            stats = frame.groupby("step")[name].agg(["mean", "std", "count"])
            half = 1.96 * stats["std"].fillna(0) / np.sqrt(stats["count"])
            ax.plot(stats.index, stats["mean"], label=str(variant))
            ax.fill_between(stats.index, stats["mean"] - half, stats["mean"] + half, alpha=0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


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
    print(figure(metrics, names, args.run_dir / "figures" / "feed_effects.png"))
    print(table(pd.read_csv(args.run_dir / "summary.csv"), names))


if __name__ == "__main__":
    main()
