"""The DLRM closed loop's training and scoring time, against a baseline checkout in the same script.

Runs ``bench_vs_trecs.py``'s DLRM workload (1,000 users x 1,250 items, every user active,
retrained every step) at the learning defaults (batch 256, each impression trained on once) for
``--steps`` steps in one process, timing ``recommender.train`` and ``recommender.score`` apart
from the rest of the step, on one torch thread, in CPU seconds of the process (less disturbed
than wall-clock seconds by other work on a shared machine; the wall-clock total is printed too). It prints one JSON line with the seconds, the
mean learned share and a SHA-256 of the final model parameters and metrics: two code versions
that compute the same numbers print the same digest.

With ``--against DIR`` (another checkout of simlab, e.g. a ``git worktree`` of the commit before
a change) it runs that measurement alternately under ``PYTHONPATH=DIR`` and under this checkout
(A B A B ..., ``--repeats`` times each), prints the median seconds of each and their ratios, and
says whether the digests agree::

    git worktree add /tmp/simlab-base HEAD~3
    python benchmarks/bench_dlrm_loop.py --against /tmp/simlab-base --steps 10 --repeats 3
    python benchmarks/bench_dlrm_loop.py --set recommender.compile=true   # one version, JSON
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def measure(steps: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run the workload in this process; seconds by stage, learned share and the digest."""
    import torch

    torch.set_num_threads(1)
    from bench_vs_trecs import scenario_doc

    import simlab
    from simlab.loop.simulation import Simulation
    from simlab.registry import ALL

    # imports stay outside the timing: every component module, and torch._dynamo, which torch
    # imports when the first optimiser is built
    [reg.get(name) for reg in ALL.values() for name in reg.names()]
    torch.optim.Adagrad([torch.zeros(1, requires_grad=True)])

    doc = scenario_doc(1000, 1250, steps, "dlrm", "cpu")
    doc["recommender"] = {"type": "dlrm", "retrain_every": 1}  # the learning defaults
    doc["metrics"] = {"include": ["ctr", "logloss", "learned_share"]}
    scenario = simlab.load_scenario(doc, overrides)
    t0, wall0 = time.process_time(), time.perf_counter()
    sim = Simulation(scenario, 0)
    rec = sim.recommender
    spent = {"train": 0.0, "score": 0.0}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - start

        return wrapper

    rec.train, rec.score = timed("train", rec.train), timed("score", rec.score)
    rows, train_per_step = [], []
    for _ in range(steps):
        before = spent["train"]
        rows.append(sim.step())
        train_per_step.append(spent["train"] - before)
    total, wall = time.process_time() - t0, time.perf_counter() - wall0
    digest = hashlib.sha256()
    for name, p in sorted(rec.model.named_parameters()):
        digest.update(name.encode())
        digest.update(p.detach().contiguous().numpy().tobytes())
    digest.update(json.dumps(rows, sort_keys=True).encode())
    shares = [r["learned_share"] for r in rows[steps // 2 :] if r and not math.isnan(r["learned_share"])]
    return {
        "steps": steps,
        "total_s": round(total, 4),
        "train_s": round(spent["train"], 4),
        "score_s": round(spent["score"], 4),
        "rest_s": round(total - spent["train"] - spent["score"], 4),
        # per step, after the first 3 (which include torch.compile's compilations when it is on)
        "train_step_s": round(statistics.median(train_per_step[3:] or train_per_step), 4),
        "wall_s": round(wall, 4),
        "learned_share": round(statistics.fmean(shares), 4) if shares else None,
        "digest": digest.hexdigest()[:16],
    }


def child(path: Path, steps: int, sets: list[str]) -> dict[str, Any]:
    """One measurement in a fresh interpreter with simlab imported from ``path``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--steps", str(steps)]
    for item in sets:
        cmd += ["--set", item]
    env = {**os.environ, "PYTHONPATH": str(path), "SIMLAB_TASK_THREADS": "1"}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=path).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from bench_vs_trecs import parse_sets

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scenario override (both sides)")
    p.add_argument("--against", type=Path, default=None, help="a baseline checkout of simlab (A/B mode)")
    p.add_argument("--repeats", type=int, default=3, help="A/B mode: runs of each side")
    p.add_argument(
        "--set-new", action="append", default=[], metavar="KEY=VALUE", help="A/B mode: an override for this side only"
    )
    args = p.parse_args(argv)
    if args.against is None:
        print(json.dumps(measure(args.steps, parse_sets(args.set))))
        return 0
    here = HERE.parent
    runs: dict[str, list[dict[str, Any]]] = {"base": [], "new": []}
    for _ in range(args.repeats):
        runs["base"].append(child(args.against.resolve(), args.steps, args.set))
        runs["new"].append(child(here, args.steps, args.set + args.set_new))
        print(json.dumps({"base": runs["base"][-1], "new": runs["new"][-1]}), flush=True)
    print(f"\nmedian of {args.repeats} alternated runs, {args.steps} steps, one thread (CPU seconds; wall: wall-clock)")
    print("| stage | base s | new s | base / new |\n| --- | ---: | ---: | ---: |")
    for key in ("train_step_s", "train_s", "score_s", "rest_s", "total_s", "wall_s"):
        base = statistics.median(r[key] for r in runs["base"])
        new = statistics.median(r[key] for r in runs["new"])
        print(f"| {key[:-2]} | {base:.3f} | {new:.3f} | {base / new:.2f}x |")
    shares = {side: runs[side][0]["learned_share"] for side in runs}
    digests = {side: {r["digest"] for r in runs[side]} for side in runs}
    print(f"learned share: base {shares['base']}, new {shares['new']}")
    same = digests["base"] == digests["new"] and len(digests["base"]) == 1
    print(f"digests: base {sorted(digests['base'])}, new {sorted(digests['new'])}: {'IDENTICAL' if same else 'DIFFER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
