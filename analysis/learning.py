"""The README's learning tables and figure from a run folder of scenarios/learning.yaml.

    python analysis/learning.py RUN_DIR --out docs

Per replicate, each metric is averaged over the second half of the run (the learners have had
the first half to learn); the tables give the mean over replicates with its 95% t-interval and,
for the closed-loop feeds, the paired difference to the DLRM (replicate by replicate, same seed).

- OUT/learning_closed_loop.md: the closed loop (dlrm, als, popularity, random, oracle): ctr,
  ndcg, learned_share, auc_within_position, auc_ceiling, personalisation and its ceiling,
  auc_pooled.
- OUT/learning_random_feed.md: the learners on a random feed (the ``*_random_feed`` variants):
  the Bayes ceiling, the within-position AUC and the learned share.
- OUT/learning.png: ctr, learned share and ndcg over time, mean and 95% t-interval per variant.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.outputs.metric_figures import plot_metric_curves
from simlab.results.intervals import difference_bounds, few_note, interval, metric_bounds
from simlab.running.files import read_metrics

SCENARIO = "scenarios/learning.yaml"
CLOSED_LOOP = ["dlrm", "als", "popularity", "random", "oracle"]
CLOSED_METRICS = [
    "ctr",
    "ndcg",
    "learned_share",
    "auc_within_position",
    "auc_ceiling",
    "personalisation",
    "personalisation_ceiling",
    "auc_pooled",
]
RANDOM_FEED_METRICS = ["auc_ceiling", "auc_within_position", "learned_share", "personalisation", "ctr"]


def second_half(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per variant and replicate, the mean of every metric over the second half of the steps."""
    last = metrics["step"].max()
    late = metrics[metrics["step"] >= (last + 1) // 2]
    names = [c for c in metrics.columns if c not in ("variant", "replicate", "step")]
    return late.groupby(["variant", "replicate"])[names].mean().reset_index()


CUT = "†"  # an interval cut at the range its metric can take (simlab's one interval rule)


def _cell(values: np.ndarray, name: str, sign: str = "") -> str:
    """Mean [95% t-interval] of ``values``, cut at metric ``name``'s range (of a difference of
    two of its values with ``sign`` "+"), † where cut; n/a without a finite value."""
    bounds = difference_bounds(metric_bounds(name)) if sign else metric_bounds(name)
    found = interval(values, bounds)
    if not np.isfinite(found.mean):
        return "n/a"
    spec = f"{sign}.3f"
    if not np.isfinite(found.low):
        return f"{found.mean:{spec}}"
    return f"{found.mean:{spec}} [{found.low:{spec}}, {found.high:{spec}}]" + (CUT if found.clipped else "")


def with_notes(text: str, replicates: int) -> str:
    """``text`` with the few-replicates note (fewer than 5) and what † means, where they apply."""
    note = few_note(replicates)
    if note:
        text += f"\n\n{note} (intervals are wide and their width uncertain)"
    if CUT in text:
        text += f"\n\n{CUT} the t-interval reached past the range the metric can take and was cut there."
    return text


def closed_loop_table(per: pd.DataFrame, variants: list[str], names: list[str]) -> str:
    """A row per variant: each metric's mean [95% CI]; below the DLRM, the paired difference of
    ctr to it."""
    base = per[per["variant"] == variants[0]].set_index("replicate")
    header = "| feed | " + " | ".join(names) + f" | ctr minus {variants[0]} |"
    rows = [header, "| --- |" + " --- |" * (len(names) + 1)]
    for variant in variants:
        mine = per[per["variant"] == variant].set_index("replicate")
        cells = [_cell(mine[n].to_numpy(float), n) for n in names]
        diff = "" if variant == variants[0] else _cell((mine["ctr"] - base["ctr"]).dropna().to_numpy(float), "ctr", "+")
        rows.append(f"| {variant} | " + " | ".join(cells) + f" | {diff} |")
    return "\n".join(rows)


def random_feed_table(per: pd.DataFrame, variants: list[str], names: list[str]) -> str:
    rows = ["| learner on a random feed | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for variant in variants:
        mine = per[per["variant"] == variant]
        rows.append(
            f"| {variant.removesuffix('_random_feed')} | "
            + " | ".join(_cell(mine[n].to_numpy(float), n) for n in names)
            + " |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the figure and tables (default RUN_DIR/figures)"
    )
    args = parser.parse_args()
    out = args.out or args.run_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    metrics = read_metrics(args.run_dir / "metrics.csv")
    metrics["variant"] = metrics["variant"].astype(str)
    per = second_half(metrics)
    present = list(dict.fromkeys(metrics["variant"]))
    closed = [v for v in CLOSED_LOOP if v in present]
    random_feed = [v for v in present if v.endswith("_random_feed")]
    names = [n for n in CLOSED_METRICS if n in per.columns]
    tables = {
        "learning_closed_loop": closed_loop_table(per, closed, names),
        "learning_random_feed": random_feed_table(
            per, random_feed, [n for n in RANDOM_FEED_METRICS if n in per.columns]
        ),
    }
    replicates = int(metrics["replicate"].nunique())
    for name, text in tables.items():
        text = with_notes(text, replicates)
        (out / f"{name}.md").write_text(text + "\n", encoding="utf-8")
        print(text, end="\n\n")
    shown = metrics[metrics["variant"].isin(closed + random_feed)]
    figure = plot_metric_curves(
        shown,
        out,
        columns=3,
        names=[n for n in ("ctr", "learned_share", "ndcg") if n in metrics.columns],
        filename="learning.png",
        title="Closed-loop feeds and the learners on a random feed",
    )
    print(figure)


if __name__ == "__main__":
    main()
