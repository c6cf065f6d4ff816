"""Fingerprint every shipped scenario's metrics: a refactor's check that the numbers did not move.

    python benchmarks/metrics_fingerprint.py --out before.json        # on the old code
    python benchmarks/metrics_fingerprint.py --compare before.json    # on the new code

Runs each ``scenarios/*.yaml`` for 2 steps, 1 replicate, every variant and sweep point, on the
CPU without figures, and records the SHA-256 of its metrics.csv. ``--compare`` prints
same/DIFF per scenario and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fingerprint(scenario: Path, steps: int) -> str:
    """SHA-256 of the metrics.csv of a short run of ``scenario``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "simlab", "run", str(scenario), "--steps", str(steps)]
        command += ["--replicates", "1", "--out", str(out), "--quiet", "--workers", "1", "--device", "cpu"]
        command += ["--set", "output.figures=false", "--set", "output.report=false"]
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        return hashlib.sha256((out / "metrics.csv").read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the fingerprints here (JSON)")
    parser.add_argument("--compare", type=Path, help="compare with fingerprints written before")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    prints = {}
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        prints[scenario.stem] = fingerprint(scenario, args.steps)
        print(f"{scenario.stem:28s} {prints[scenario.stem][:16]}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(prints, indent=1) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = [name for name in sorted(before.keys() | prints.keys()) if before.get(name) != prints.get(name)]
        for name in sorted(before.keys() | prints.keys()):
            print(("DIFF " if name in differ else "same ") + name)
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
