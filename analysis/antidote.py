"""Antidote data in the closed loop (Rastegarpanah, Gummadi & Crovella 2019): figure and table.

    python analysis/antidote.py RUN_DIR --out DIR

For each feed of scenarios/antidote.yaml (variants ``als*`` and ``dlrm*``), the paired difference
of every antidote variant to the same feed without antidote at the final step (replicates
paired by seed; the project's 95% t-interval): what antidote targets (rpol, and
unfairness_individual for the unfairness variants), what the society feels (opinion_variance,
polarization_er, extremity, exposure_extremeness) and the cost (ctr).
Writes DIR/antidote_closed_loop.md and, per feed, DIR/antidote_closed_loop_FEED.png (a forest plot).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from simlab.outputs.compare import in_scenario_order, paired_differences, to_markdown
from simlab.outputs.compare_figures import plot_forest
from simlab.running.files import read_metrics

SCENARIO = "scenarios/antidote.yaml"  # the run this script reads (analysis/README.md)
TINY = {"population.size": 60, "catalog.size": 80}
METRICS = [
    "rpol",
    "unfairness_individual",
    "opinion_variance",
    "polarization_er",
    "extremity",
    "exposure_extremeness",
    "ctr",
]
FEEDS = ("als", "dlrm")


def differences(metrics: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per feed, the paired differences of its antidote variants to that feed without antidote."""
    tables: dict[str, pd.DataFrame] = {}
    for feed in FEEDS:
        variants = [v for v in dict.fromkeys(metrics["variant"]) if v == feed or v.startswith(f"{feed}_")]
        if feed in variants and len(variants) > 1:
            subset = metrics[metrics["variant"].isin(variants)]
            tables[feed] = paired_differences(subset, baseline=feed, names=METRICS)
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="where the figure and table go (default RUN_DIR)")
    args = parser.parse_args()
    out = args.out or args.run_dir
    out.mkdir(parents=True, exist_ok=True)
    metrics = in_scenario_order(read_metrics(args.run_dir / "metrics.csv"), args.run_dir)
    feeds = differences(metrics)
    text = "\n".join(to_markdown(part) for part in feeds.values())
    (out / "antidote_closed_loop.md").write_text(text + "\n")
    for feed, part in feeds.items():  # one figure per feed: their rpol scales differ 100-fold
        plot_forest(part, out, columns=3, filename=f"antidote_closed_loop_{feed}.png")
    print(text)


if __name__ == "__main__":
    main()
