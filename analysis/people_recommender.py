"""Closed-loop opinion formation with people and item recommenders (Spinelli & Crovella, WebSci
2017; issue 26): figure and table.

    python analysis/people_recommender.py RUN_DIR --out DIR

The run is ``scenarios/people_recommender.yaml``: one society, four variants (``neither``,
``link_based``, ``ratings_based``, ``both``), paired seeds. Draws the opinion-formation metrics
over time (intensity, simplification, echo chamber, assortativity, rewired edges, mean and 95%
t-interval over replicates) and, from the snapshots, divergence (the 1-Wasserstein distance
between each variant's final opinions and those of ``neither`` in the same replicate;
:func:`simlab.metrics.opinion_formation.divergence_from_snapshots`). The table has each metric at
the final step per variant and the paired difference to ``neither``, and divergence's control:
the distance between two independent societies without either recommender. Writes
DIR/people_recommender.png and DIR/people_recommender.md.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from _phenomena import fmt, folders, read, with_note

from simlab.metrics.opinion_formation import divergence, divergence_from_snapshots
from simlab.outputs.metric_figures import plot_metric_curves

SCENARIO = "scenarios/people_recommender.yaml"
BASELINE = "neither"
DIVERGENCE_RANGE = (0.0, 2.0)  # 1-Wasserstein distance between distributions on [-1, 1]
NAMES = ["intensity", "simplification", "echo_chamber", "assortativity", "rewired_edges", "opinion_variance"]


def divergence_table(run_dir: Path) -> pd.DataFrame:
    """Final-step divergence from ``neither`` per variant and replicate (empty without snapshots)."""
    rows = pd.DataFrame(divergence_from_snapshots(run_dir, BASELINE))
    if rows.empty:
        return rows
    return rows[rows["step"] == rows["step"].max()].set_index(["variant", "replicate"])["divergence"]


def independent_floor(run_dir: Path) -> np.ndarray:
    """The control for divergence: the distance between the final opinions of two independent
    societies without either recommender (``neither``, replicate r against r + 1; sampling noise
    alone). A variant's divergence near this floor is not told from chance.
    """
    finals: dict[int, tuple[int, np.ndarray]] = {}
    for path in Path(run_dir, "snapshots").glob("*.npz"):
        with np.load(path) as snapshot:
            if str(snapshot["variant"]) != BASELINE:
                continue
            replicate, step = int(snapshot["replicate"]), int(snapshot["step"])
            if replicate not in finals or step > finals[replicate][0]:
                finals[replicate] = (step, snapshot["opinion"])
    order = sorted(finals)
    return np.array([divergence(finals[a][1], finals[b][1]) for a, b in itertools.pairwise(order)])


def table(metrics: pd.DataFrame, divergence: pd.Series | pd.DataFrame, floor: np.ndarray) -> str:
    final = metrics[metrics["step"] == metrics["step"].max()].set_index(["variant", "replicate"])
    variants = [v for v in final.index.get_level_values("variant").unique() if v != BASELINE]
    lines = [
        "| metric | " + BASELINE + " | " + " | ".join(f"{v} - {BASELINE} (paired)" for v in variants) + " |",
        "| --- " * (2 + len(variants)) + "|",
    ]
    base = final.loc[BASELINE]
    for name in NAMES:
        cells = [fmt(base[name], metric=name)]
        for variant in variants:
            cells.append(fmt(final.loc[variant, name] - base[name], signed=True, metric=name))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if len(divergence):
        cells = ["0 (itself)"] + [fmt(divergence.loc[v], bounds=DIVERGENCE_RANGE) for v in variants]
        lines.append("| divergence from neither | " + " | ".join(cells) + " |")
    if len(floor) > 1:
        control = fmt(floor, bounds=DIVERGENCE_RANGE)
        lines.append(f"| control: two independent societies, neither | {control} | | | |")
    return "\n".join(lines)


def main() -> None:
    run_dir, out = folders(__doc__)
    metrics = read(run_dir)
    plot_metric_curves(
        metrics, out, names=NAMES, filename="people_recommender.png", title="People and item recommenders"
    )
    text = with_note(table(metrics, divergence_table(run_dir), independent_floor(run_dir)), run_dir)
    (out / "people_recommender.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
