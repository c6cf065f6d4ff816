"""The 10 x 10 flagship sweep against its 30-minute budget on the 2-core machine (issue 28).

Runs the flagship (``scenarios/dlrm_engagement.yaml``, its DLRM only) at 500 users, 500 items,
50 creators and 5 new items a step, for 40 steps, over a grid of the extremity appetite
``behavior.b_ext`` x the alignment weight ``behavior.b_align`` (10 values each by default), 10
replicates per cell, every metric recorded, no snapshots, figures or report, as one
``simlab run --workers 2`` (the command is printed). Prints the wall-clock time, seconds per
task and the budget's ratio to the time (above 1: within the budget), and draws the figure the
sweep makes: the final step's exposure extremeness, extremity and click-through rate in each
cell, means over replicates (``--figure``, default ``benchmarks/results/flagship_sweep.png``)::

    python benchmarks/bench_sweep.py                            # the full sweep: 1,000 tasks
    python benchmarks/bench_sweep.py --cells 3 --replicates 2   # a 3 x 3 trial: 18 tasks

``--run DIR`` redraws the figure from an earlier sweep's run folder without running it again.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "scenarios/dlrm_engagement.yaml"  # run from the repository root
X_KEY, Y_KEY = "behavior.b_ext", "behavior.b_align"
BUDGET_S = 30 * 60
PANELS = ("exposure_extremeness", "extremity", "ctr")
# the flagship's society at the sweep's size; every other setting is the scenario's
SIZE = [
    "variants={}",
    "population.size=500",
    "catalog.size=500",
    "catalog.creators=50",
    "catalog.new_per_step=5",
    "output.snapshot_every=0",
    "output.figures=false",
    "output.report=false",
]


def grid_values(cells: int) -> list[float]:
    """``cells`` values 0, 0.5, 1, ... (the first ``cells`` of the half-unit steps)."""
    return [round(0.5 * i, 2) for i in range(cells)]


def command(cells: int, replicates: int, steps: int, workers: int) -> list[str]:
    """``simlab run`` of the sweep, from the repository root, without ``--out``."""
    values = grid_values(cells)
    sweep = f"sweep={{{X_KEY}: {values}, {Y_KEY}: {values}}}"
    sets = [*SIZE, f"steps={steps}", f"replicates={replicates}", sweep]
    cmd = ["python", "-m", "simlab", "run", SCENARIO, "--workers", str(workers), "--quiet"]
    for item in sets:
        cmd += ["--set", item]
    return cmd


def draw(run_dir: Path, figure: Path) -> None:
    """The final step's cell means of :data:`PANELS`, one heatmap each, into ``figure``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simlab.outputs.labels import title_of, unit_of
    from simlab.running.files import read_metrics

    frame = read_metrics(run_dir / "metrics.csv")
    final = frame[frame["step"] == frame["step"].max()]
    cells = final.groupby([Y_KEY, X_KEY])[list(PANELS)].mean()
    replicates = int(final.groupby([Y_KEY, X_KEY])["replicate"].nunique().min())
    xs, ys = sorted(final[X_KEY].unique()), sorted(final[Y_KEY].unique())
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.8), constrained_layout=True)
    for i, (ax, name) in enumerate(zip(np.atleast_1d(axes), PANELS)):
        values = np.array([[cells.loc[(y, x), name] for x in xs] for y in ys])
        image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs])
        ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys])
        ax.set_xlabel("extremity appetite b_ext")
        if i == 0:
            ax.set_ylabel("alignment weight b_align")
        ax.set_title(title_of(name), fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.85).set_label(unit_of(name), fontsize=8)
    steps = int(final["step"].iloc[0]) + 1
    fig.suptitle(
        f"Flagship DLRM, 500 users: final step ({steps} steps), mean of {replicates} replicates per cell",
        fontsize=11,
    )
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    print(f"figure: {figure}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=10, help="grid values per axis (default 10)")
    p.add_argument("--replicates", type=int, default=10, help="replicates per cell (default 10)")
    p.add_argument("--steps", type=int, default=40, help="steps per task (default 40)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2: the 2-core machine)")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: a new temporary folder)")
    p.add_argument("--run", type=Path, default=None, help="redraw the figure of this run folder; run nothing")
    p.add_argument("--figure", type=Path, default=ROOT / "benchmarks" / "results" / "flagship_sweep.png")
    args = p.parse_args(argv)
    if args.run is not None:
        draw(args.run, args.figure)
        return 0
    folder = args.out.resolve() if args.out else Path(tempfile.mkdtemp(prefix="flagship_sweep_")) / "run"
    cmd = command(args.cells, args.replicates, args.steps, args.workers)
    tasks = args.cells**2 * args.replicates
    print("$ " + shlex.join(cmd), flush=True)
    start = time.perf_counter()
    run = [sys.executable, *cmd[1:], "--out", str(folder)]
    subprocess.run(run, check=True, cwd=ROOT, env={**os.environ, "SIMLAB_TASK_THREADS": "1"})
    seconds = time.perf_counter() - start
    print(
        f"{args.cells} x {args.cells} cells x {args.replicates} replicates = {tasks} tasks, {args.steps} steps, "
        f"{args.workers} workers: {seconds:.0f} s ({seconds / 60:.1f} min), {seconds * args.workers / tasks:.2f} "
        f"worker-s per task"
    )
    scaled = seconds * 1000 / tasks if tasks != 1000 else seconds
    print(
        f"budget {BUDGET_S / 60:.0f} min / time: {BUDGET_S / scaled:.2f}x"
        + (f" (projected to 1,000 tasks: {scaled / 60:.1f} min)" if tasks != 1000 else "")
    )
    draw(folder, args.figure)
    print(f"run folder: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
