"""Where a run's time goes: the loop's stages, from cProfile (issue 28: profile first).

Runs one scenario in-process under :mod:`cProfile` (one task, ``workers=1``) and splits the time
into the stages of ``Simulation.step`` (docs/design.md §2) by the functions the step calls:
candidate generation, scoring, slate building, response, dynamics, logging, training, metrics and
catalog growth, plus what happens outside the step (building the society, writing the run
folder). Percentages are of the whole run; the absolute seconds include cProfile's overhead
(about 1.3-2x on this loop), so compare shares, and time a change with the benchmark scripts.

Running::

    python benchmarks/profile_loop.py                      # the DLRM workload of bench_vs_trecs.py
    python benchmarks/profile_loop.py --scenario scenarios/quickstart.yaml
    python benchmarks/profile_loop.py --set recommender.batch_size=4096 --top 15

``SIMLAB_TASK_THREADS=1`` (the default here) keeps torch on one thread, as the speed targets are.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("SIMLAB_TASK_THREADS", "1")

# a callee of Simulation.step -> its stage (matched on the function's name); the rest of the
# step's own time (tensor bookkeeping written inline in step) is "step, inline"
STAGE_OF = {
    "generate": "candidates",
    "platform_users": "candidates",
    "score": "scoring",
    "decorate_context": "scoring",  # torch.no_grad()-decorated calls from the step: score (and predict)
    "adjust_scores": "scoring",
    "build_slates": "slates",
    "columns_to_items": "slates",
    "probability": "response",
    "predict": "response",
    "update": "dynamics",
    "drift_interests": "dynamics",
    "_remember": "dynamics",
    "_linked": "dynamics",
    "append": "logging",
    "observe": "logging",
    "dense": "logging",
    "_count": "logging",
    "train": "training",
    "training_rows": "training",
    "record": "metrics",
    "setup": "metrics",
    "new_items": "catalog growth",
    "observed": "catalog growth",
}
ORDER = [
    "build (society, recommender)",
    "candidates",
    "scoring",
    "slates",
    "response",
    "dynamics",
    "logging",
    "training",
    "metrics",
    "catalog growth",
    "step, inline",
    "writing and other",
]


def profile(scenario: Any, overrides: dict[str, Any]) -> tuple[pstats.Stats, float]:
    """Run ``scenario`` once under cProfile; the stats and the wall-clock seconds."""
    import torch

    import simlab
    import simlab.running
    from simlab.registry import ALL

    # imports stay outside the profile: every component module, and torch._dynamo, which torch
    # imports the first time an optimiser is built
    [reg.get(name) for reg in ALL.values() for name in reg.names()]
    torch.optim.Adagrad([torch.zeros(1, requires_grad=True)])
    loaded = simlab.load_scenario(scenario, overrides)
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="profile_loop_") as out:
        t0 = time.perf_counter()
        profiler.enable()
        simlab.run(loaded, out=out, quiet=True, workers=1)
        profiler.disable()
        seconds = time.perf_counter() - t0
    return pstats.Stats(profiler), seconds


def stages(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds per stage (see ``STAGE_OF``); they add up to the profiled total."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    step = [key for key in table if key[2] == "step" and key[0].endswith(os.path.join("loop", "simulation.py"))]
    build = [key for key in table if key[2] == "__init__" and key[0].endswith(os.path.join("loop", "simulation.py"))]
    total = max(entry[3] for entry in table.values())  # the outermost call's cumulative time
    out: dict[str, float] = defaultdict(float)
    step_total = sum(table[key][3] for key in step)
    for func, (_, _, _, _, callers) in table.items():
        for caller in step:
            if caller in callers:
                out[STAGE_OF.get(func[2], "step, inline")] += callers[caller][3]
    out["step, inline"] += sum(table[key][2] for key in step)  # step's own time
    out["build (society, recommender)"] = sum(table[key][3] for key in build)
    out["writing and other"] = total - step_total - out["build (society, recommender)"]
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    from bench_vs_trecs import parse_sets, scenario_doc

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default=None, help="a scenario file (default: bench_vs_trecs.py's DLRM workload)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--items", type=int, default=1250)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--recommender", default="dlrm")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a scenario override")
    p.add_argument("--top", type=int, default=0, help="also print the top N functions by own time")
    args = p.parse_args(argv)
    overrides = parse_sets(args.set)
    if args.scenario:
        scenario: Any = args.scenario
        overrides.setdefault("replicates", 1)
        label = args.scenario
    else:
        scenario = scenario_doc(args.users, args.items, args.steps, args.recommender, "cpu")
        label = f"{args.recommender}, {args.users} users x {args.items} items x {args.steps} steps"
    stats, seconds = profile(scenario, overrides)
    split = stages(stats)
    total = sum(split.values())
    print(f"{label}: {seconds:.1f} s wall-clock under cProfile, threads={os.environ['SIMLAB_TASK_THREADS']}")
    print("| stage | seconds | share |\n| --- | ---: | ---: |")
    for name in ORDER:
        if split.get(name):
            print(f"| {name} | {split[name]:.2f} | {100 * split[name] / total:.1f}% |")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
