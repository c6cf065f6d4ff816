"""Issue 25's speed target: ``simlab antidote`` on a MovieLens-100k-sized file at a 5% budget, with
its default options, in at most 2 minutes of one CPU core, with a progress bar.

The file is generated (``simlab.antidote.synthetic.movielens_like``: 943 users x 1,682 items,
100,000 integer ratings 1-5, the ml-100k ``u.data`` layout; nothing is downloaded). The command
runs as a user runs it, a subprocess with ``SIMLAB_TASK_THREADS=1`` (one torch thread); its CPU
time (user + system, from ``getrusage`` of the children) is the measure, since the wall time on
a shared machine counts other processes' load. Prints the command's output, the last state of
its progress bar, and the verdict.

    python benchmarks/bench_antidote_speed.py            # the target's size
    python benchmarks/bench_antidote_speed.py --quick    # a small file, to check the script runs
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simlab.antidote.synthetic import movielens_like, write_movielens

TARGET_CPU_SECONDS = 120.0
BUDGET = 0.05


def measure(quick: bool) -> tuple[float, float, str, str]:
    """(CPU seconds, wall seconds, stdout, stderr) of ``simlab antidote FILE --budget 0.05``."""
    size = dict(n_users=200, n_items=300, n_ratings=8_000) if quick else {}
    with tempfile.TemporaryDirectory(prefix="bench-antidote-speed-") as scratch:
        path = Path(scratch) / "u.data"
        write_movielens(str(path), movielens_like(**size))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "simlab", "antidote", str(path), "--budget", str(BUDGET), "--out", f"{scratch}/out"],
            capture_output=True,
            text=True,
            env={**os.environ, "SIMLAB_TASK_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, wall, done.stdout, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small file (a smoke run of the script)")
    args = parser.parse_args()
    cpu, wall, out, err = measure(args.quick)
    bar = [line for line in err.replace("\r", "\n").splitlines() if "%|" in line]
    print(f"bench_antidote_speed: simlab antidote, budget {BUDGET:.0%}, default options, 1 thread")
    print(out.rstrip())
    print(f"progress bar (last state): {bar[-1].strip() if bar else 'none shown'}")
    verdict = "ok" if cpu <= TARGET_CPU_SECONDS else "over"
    print(f"the command: {cpu:.1f} s CPU, {wall:.1f} s wall; target <= {TARGET_CPU_SECONDS:.0f} s CPU: {verdict}")


if __name__ == "__main__":
    main()
