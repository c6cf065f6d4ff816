"""What drawing a run's figures and writing its report cost against simulating it (issue 29).

Runs a scenario (default: the quickstart) as ``simlab run`` does, but with ``output.figures`` and
``output.report`` off, timing the simulation (the baseline); then draws the figures
(``simlab.outputs.plotting.plot_run``) and writes the report (``write_report``) of the same run
folder, timing each. Prints both in wall-clock seconds and in CPU seconds (this process and its
worker processes), and the ratio of figures + report to the simulation; the target is at most
0.20. On a machine shared with other processes the wall-clock ratio moves with their load; the
CPU ratio does not.

    python benchmarks/bench_outputs.py                           # the quickstart, default workers
    python benchmarks/bench_outputs.py --workers 1 --figure-workers 1
    python benchmarks/bench_outputs.py --set steps=10 --quick    # a short check that the script runs
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import simlab
from simlab.config import parse_set
from simlab.outputs.plotting import plot_run
from simlab.outputs.report import write_report
from simlab.running.resources import default_workers

TARGET = 0.20


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/quickstart.yaml")
    parser.add_argument("--workers", type=int, default=None, help="simulation workers (default: as simlab run)")
    parser.add_argument("--figure-workers", type=int, default=None, help="figure processes (default: as simlab run)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--quick", action="store_true", help="do not compare with the target")
    args = parser.parse_args()
    overrides = {**parse_set(args.set), "output.figures": False, "output.report": False}
    with tempfile.TemporaryDirectory(prefix="bench-outputs-") as scratch:
        out = Path(scratch) / "run"
        _, sim_wall, sim_cpu = timed(
            lambda: simlab.run(args.scenario, out=out, overrides=overrides, workers=args.workers, quiet=True)
        )
        paths, fig_wall, fig_cpu = timed(lambda: plot_run(out, workers=args.figure_workers))
        _, rep_wall, rep_cpu = timed(lambda: write_report(out))
    workers = args.workers or default_workers()
    print(
        f"bench_outputs: {args.scenario} {' '.join(args.set)}; {workers} simulation worker(s), "
        f"{args.figure_workers or default_workers()} figure process(es) at most; {len(paths)} figures"
    )
    print(f"{'part':<22}{'wall s':>9}{'CPU s':>9}")
    for name, wall, cpu in (
        ("simulation (baseline)", sim_wall, sim_cpu),
        ("figures", fig_wall, fig_cpu),
        ("report", rep_wall, rep_cpu),
    ):
        print(f"{name:<22}{wall:>9.1f}{cpu:>9.1f}")
    wall_ratio = (fig_wall + rep_wall) / sim_wall
    cpu_ratio = (fig_cpu + rep_cpu) / sim_cpu
    verdict = "" if args.quick else ("  ok" if wall_ratio <= TARGET else "  over the target")
    print(
        f"figures + report / simulation: {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU (target <= {TARGET:.2f}){verdict}"
    )


if __name__ == "__main__":
    main()
