"""Fan-out benchmark (not a test): 16 tasks of the quickstart scenario on 1 worker, 2 workers
(local process pool) and Ray on this machine; prints wall time and speed-up, and checks that
the three runs wrote identical metrics.

    python benchmarks/bench_fanout.py [--steps 60] [--tasks 16]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

from simlab.running import run

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    overrides = {"variants": {}, "output.figures": False, "output.report": False, "output.snapshot_every": 0}
    common = {"replicates": args.tasks, "steps": args.steps, "device": "cpu", "overrides": overrides, "quiet": True}
    print(f"{args.tasks} tasks of {SCENARIO.name} x {args.steps} steps; {os.cpu_count()} CPUs; 1 torch thread per task")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        configs = [("local, 1 worker", {"workers": 1}), ("local, 2 workers", {"workers": 2})]
        if importlib.util.find_spec("ray") is not None:
            configs.append(("ray, 2 CPUs (incl. start)", {"backend": "ray", "workers": 2}))
        else:
            print("ray not installed: skipping the ray backend (pip install 'simlab[ray]')")
        for name, options in configs:
            started = time.perf_counter()
            result = run(str(SCENARIO), out=Path(folder) / name.replace(" ", "_").replace(",", ""), **common, **options)
            seconds = time.perf_counter() - started
            assert result.status == "complete", result.manifest
            results[name] = (seconds, (result.path / "metrics.csv").read_bytes())
    base = results["local, 1 worker"][0]
    print(f"{'backend':<28}{'wall s':>8}{'speed-up':>10}  metrics")
    reference = results["local, 1 worker"][1]
    for name, (seconds, metrics) in results.items():
        same = "identical" if metrics == reference else "DIFFERENT"
        print(f"{name:<28}{seconds:>8.1f}{base / seconds:>9.2f}x  {same}")


if __name__ == "__main__":
    main()
