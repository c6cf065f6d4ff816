"""The quickstart on one core, against a baseline checkout in the same script (issue 28).

Runs ``simlab run scenarios/quickstart.yaml --workers 1`` with one torch thread
(``SIMLAB_TASK_THREADS=1``, ``SIMLAB_WORKERS=1``, so the figures are drawn by one process too)
under this checkout and, with ``--against DIR``, under another checkout of simlab (e.g. a
``git worktree`` of the commit before a change), alternately (A B A B ..., ``--repeats`` times
each). Prints the median wall-clock seconds of each, their ratio, and whether the two runs'
metrics.csv are byte-identical (a speed-up must not change a number)::

    git worktree add /tmp/simlab-base 0417730
    python benchmarks/bench_quickstart.py --against /tmp/simlab-base --repeats 2
    python benchmarks/bench_quickstart.py --steps 20            # this checkout only

The scenario file is this checkout's in both runs, so both simulate the same scenario.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "quickstart.yaml"


def one_run(checkout: Path, steps: int | None, folder: Path) -> tuple[float, str]:
    """Wall-clock seconds of one ``simlab run`` of the quickstart under ``checkout``, and the
    SHA-256 of its metrics.csv."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "SIMLAB_TASK_THREADS": "1", "SIMLAB_WORKERS": "1"}
    command = [sys.executable, "-m", "simlab", "run", str(SCENARIO), "--workers", "1", "--quiet", "--out", str(folder)]
    if steps is not None:
        command += ["--steps", str(steps)]
    start = time.perf_counter()
    # cwd outside both checkouts: `python -m` puts the working directory first on sys.path
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=folder.parent)
    seconds = time.perf_counter() - start
    return seconds, hashlib.sha256((folder / "metrics.csv").read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--against", type=Path, default=None, help="a baseline checkout of simlab (A/B mode)")
    p.add_argument("--repeats", type=int, default=1, help="runs of each version (default 1)")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default: the scenario's)")
    args = p.parse_args(argv)
    versions = {"this": ROOT} if args.against is None else {"base": args.against.resolve(), "this": ROOT}
    seconds: dict[str, list[float]] = {name: [] for name in versions}
    digests: dict[str, set[str]] = {name: set() for name in versions}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name, checkout in versions.items():
                took, digest = one_run(checkout, args.steps, Path(tmp) / f"{name}{repeat}")
                seconds[name].append(took)
                digests[name].add(digest)
                print(f"{name} run {repeat + 1}: {took:.1f} s", flush=True)
    for name in versions:
        print(f"{name}: median {statistics.median(seconds[name]):.1f} s over {len(seconds[name])} run(s)")
    if args.against is not None:
        ratio = statistics.median(seconds["base"]) / statistics.median(seconds["this"])
        same = digests["base"] == digests["this"] and len(digests["this"]) == 1
        print(f"speed-up this / base: {ratio:.2f}x; metrics.csv byte-identical: {'yes' if same else 'NO'}")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
