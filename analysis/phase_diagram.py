"""Phenomenon 6, a phase diagram of consensus, polarisation and fragmentation (after Bellina et
al. 2023 and the bounded-confidence literature): figure and table.

    python analysis/phase_diagram.py RUN_DIR --out DIR

Each cell of the 2-D sweep (confidence bound eps x extremity appetite b_ext) is classified from
its final opinions (the last snapshot of each replicate; the most frequent class over
replicates): clusters are runs of sorted opinions (axis 0) split at gaps wider than GAP, and a
cluster counts when it holds at least MIN_SHARE of the users.

- consensus: one cluster and opinion_variance < 0.05;
- polarisation: two clusters, or bimodality coefficient > 5/9 with at most two clusters;
- fragmentation: three clusters or more;
- dispersed: anything else (one broad spread, no clear groups).

Writes DIR/phase_diagram.png (the class of each cell, with its cluster count and variance) and
DIR/phase_diagram.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from _phenomena import folders

from simlab.metrics.measures import bimodality_coefficient_t, opinion_variance_t
from simlab.outputs.phenomena_figures import plot_category_grid
from simlab.results.intervals import few_note
from simlab.running.files import read_metrics

SCENARIO = "scenarios/phase_diagram.yaml"
X_KEY, Y_KEY = "population.confidence", "behavior.b_ext"
GAP = 0.1  # opinions on [-1, 1]: a gap wider than this separates two clusters
MIN_SHARE = 0.05
CLASSES = ["consensus", "polarisation", "fragmentation", "dispersed"]


def clusters(opinion: np.ndarray) -> int:
    """Number of clusters holding at least MIN_SHARE of the users (axis 0, split at gaps > GAP)."""
    x = np.sort(opinion[:, 0])
    sizes = np.diff(np.concatenate([[0], np.nonzero(np.diff(x) > GAP)[0] + 1, [x.size]]))
    return int((sizes >= MIN_SHARE * x.size).sum())


def classify(opinion: np.ndarray) -> tuple[str, int, float, float]:
    """(class, cluster count, opinion_variance, bimodality) of one final opinion array (N, K)."""
    k = clusters(opinion)
    variance = float(opinion_variance_t(opinion))
    bimodality = float(bimodality_coefficient_t(opinion[:, 0]))
    if k == 1 and variance < 0.05:
        label = "consensus"
    elif k == 2 or (bimodality > 5 / 9 and k <= 2):
        label = "polarisation"
    elif k >= 3:
        label = "fragmentation"
    else:
        label = "dispersed"
    return label, k, variance, bimodality


def final_snapshots(run_dir: Path) -> dict[tuple[float, float], list[np.ndarray]]:
    """Final opinions per sweep cell (one array per replicate)."""
    latest: dict[tuple[float, float, int], tuple[int, Path]] = {}
    for path in sorted((run_dir / "snapshots").glob("*.npz")):
        with np.load(path) as data:
            sweep = json.loads(str(data["sweep"]))
            key = (float(sweep[X_KEY]), float(sweep[Y_KEY]), int(data["replicate"]))
            step = int(data["step"])
        if key not in latest or step > latest[key][0]:
            latest[key] = (step, path)
    cells: dict[tuple[float, float], list[np.ndarray]] = {}
    for (x, y, _), (_, path) in sorted(latest.items()):
        with np.load(path) as data:
            cells.setdefault((x, y), []).append(data["opinion"])
    return cells


def main() -> None:
    run_dir, out = folders(__doc__)
    cells = final_snapshots(run_dir)
    xs, ys = sorted({x for x, _ in cells}), sorted({y for _, y in cells})
    grid, notes = [], []
    lines = [
        f"| {X_KEY} (eps) | {Y_KEY} | class | clusters | opinion_variance | bimodality | replicates |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for y in ys:
        row, row_notes = [], []
        for x in xs:
            found = [classify(o) for o in cells[(x, y)]]
            label = Counter(f[0] for f in found).most_common(1)[0][0]
            k, var, bc = (float(np.mean([f[i] for f in found])) for i in (1, 2, 3))
            row.append(label)
            row_notes.append(f"k={k:.1g} var={var:.2f}")
            lines.append(f"| {x:g} | {y:g} | {label} | {k:.1f} | {var:.3f} | {bc:.3f} | {len(found)} |")
        grid.append(row)
        notes.append(row_notes)
    plot_category_grid(
        grid,
        CLASSES,
        xs,
        ys,
        out / "phase_diagram.png",
        "confidence bound eps (opinions on [-1, 1])",
        "extremity appetite b_ext",
        "Final opinions: consensus, polarisation, fragmentation",
        notes,
    )
    # every table with few pairs says so (as analysis/_phenomena.with_note; this script is imported by its test)
    note = few_note(int(read_metrics(run_dir / "metrics.csv")["replicate"].nunique()))
    text = "\n".join(lines) + (f"\n\n{note} (intervals are wide and their width uncertain)" if note else "")
    (out / "phase_diagram.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
