"""Regenerate the README's timings (issue 29): they are measured by this script, never typed.

Runs ``simlab run scenarios/quickstart.yaml`` exactly as the README shows it (default workers,
figures and report on) in a scratch folder and, with ``--suite``, the default test suite
(``python -m pytest -p no:cacheprovider``); then writes the README's timing block, the text
between ``<!-- timings -->`` and ``<!-- /timings -->``, to benchmarks/results/readme_timings.md
and into README.md. tests/test_readme.py checks that the README's block is that file's; the
documentation's Getting started page includes that file (``--8<--``), so it shows the same text.

    python benchmarks/readme_timings.py            # the quickstart; the suite's line is kept
    python benchmarks/readme_timings.py --suite    # both (the suite takes several minutes)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "readme_timings.md"
BEGIN, END = "<!-- timings -->", "<!-- /timings -->"
BLOCK = re.compile(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), re.S)


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def measure(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the command and its children, the finished process)."""
    wall, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - wall, children_cpu() - cpu, done


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def quickstart() -> str:
    with tempfile.TemporaryDirectory(prefix="readme-timings-") as scratch:
        out = Path(scratch) / "run"
        command = [sys.executable, "-m", "simlab", "run", "scenarios/quickstart.yaml", "--out", str(out), "--quiet"]
        wall, cpu, done = measure(command, ROOT)
        if done.returncode != 0:
            sys.exit(f"the quickstart failed:\n{done.stderr[-2000:]}")
        manifest = json.loads((out / "manifest.json").read_text())
    simulation = float(manifest["timings"]["total_seconds"])
    return (
        f"`simlab run scenarios/quickstart.yaml` (3 feeds x 3 replicates x 60 steps, {manifest['workers']} workers) "
        f"took {minutes(wall)} of wall time ({minutes(cpu)} of CPU time): {minutes(simulation)} running the tasks, "
        f"the rest start-up, merging, figures and report."
    )


def suite() -> str:
    # as the README runs it: pyproject's addopts already hold -q (a second -q drops the summary line)
    wall, cpu, done = measure([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], ROOT)
    tail = (done.stdout.strip().splitlines() or ["?"])[-1]
    if done.returncode != 0:
        sys.exit(f"the test suite failed: {tail}")
    passed = re.search(r"(\d+) passed", tail)
    return (
        f"The default test suite (`python -m pytest`, {passed.group(1) if passed else '?'} tests) took "
        f"{minutes(wall)} of wall time ({minutes(cpu)} of CPU time)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="store_true", help="also time the test suite")
    args = parser.parse_args()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = BLOCK.search(readme)
    if found is None:
        sys.exit(f"README.md has no {BEGIN} ... {END} block")
    lines = found.group(1).splitlines()
    old_suite = next((line for line in lines if line.startswith("The default test suite")), "")
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    head = [
        f"Measured by `python benchmarks/readme_timings.py` on {dt.date.today().isoformat()}, on this project's "
        f"machine ({cores} usable cores, shared with other work: load average {load:.1f} at the start).",
        "",
        quickstart(),
        "",
    ]
    if args.suite:
        # the suite checks that the README's block is this script's (tests/test_readme.py): write
        # the block with the suite's line pending first, so that the suite it times can pass
        write(readme, [*head, "The default test suite (`python -m pytest`) was being timed when this was written."])
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
    print(write(readme, [*head, suite() if args.suite else old_suite]))


def write(readme: str, block: list[str]) -> str:
    """Put ``block`` between the README's timing markers and into the results file; the text."""
    text = "\n".join(block).rstrip()
    RESULTS.write_text(text + "\n", encoding="utf-8")
    (ROOT / "README.md").write_text(BLOCK.sub(f"{BEGIN}\n{text}\n{END}", readme, count=1), encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
