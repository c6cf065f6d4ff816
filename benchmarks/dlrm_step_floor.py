"""The fixed cost of one DLRM training mini-batch, against the 30x target's budget (issue 28).

Runs ``bench_vs_trecs.py``'s DLRM workload (1,000 users x 1,250 items, every user active,
retrained every step, the learning defaults) for 3 steps on one torch thread, keeps the last
retrain's rows and times the trainer's step (forward, backward, Adagrad) on mini-batches of 1,
16, 64 and 256 of them. The time at one row is what a mini-batch costs whatever its size
(operators, autograd, Python); at 256 rows a retrain of 10,000 rows takes 40 such steps. With
``--trecs-json`` (a file written by ``bench_vs_trecs.py --trecs-save``) it also prints the time
a whole step may take for simlab to run 30x T-RECS, beside what the 40 mini-batches' fixed cost
alone takes::

    python benchmarks/dlrm_step_floor.py
    python benchmarks/dlrm_step_floor.py --trecs-json benchmarks/results/trecs_1000x1250x100.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("SIMLAB_TASK_THREADS", "1")


def last_retrain() -> tuple[Any, dict[str, Any]]:
    """The trainer and the batch of the last retrain of a 3-step run of the workload (rebuilt by
    the recommender's own ``training_batch``)."""
    import bench_vs_trecs

    import simlab
    from simlab.loop.simulation import Simulation

    sim = Simulation(simlab.load_scenario(bench_vs_trecs.scenario_doc(1000, 1250, 3, "dlrm", "cpu")), 0)
    for _ in range(3):
        sim.step()
    recommender = sim.recommender
    return recommender.trainer, recommender.training_batch(sim.log, sim.t - 1)


def ms_per_step(trainer: Any, batch: dict[str, Any], size: int, repeats: int) -> float:
    """Mean milliseconds of ``trainer.step`` over ``repeats`` mini-batches of ``size`` rows."""
    minis = [{k: v[i * size : (i + 1) * size] for k, v in batch.items()} for i in range(8)]
    for mini in minis:  # warm up
        trainer.step(mini)
    start = time.perf_counter()
    for r in range(repeats):
        trainer.step(minis[r % len(minis)])
    return (time.perf_counter() - start) / repeats * 1e3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trecs-json", type=Path, help="T-RECS's result from bench_vs_trecs.py --trecs-save")
    p.add_argument("--repeats", type=int, default=300, help="mini-batches timed per size (default 300)")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    trainer, batch = last_retrain()
    rows = int(batch["label"].shape[0])
    per_size = {size: ms_per_step(trainer, batch, size, args.repeats) for size in (1, 16, 64, 256)}
    print("| rows per mini-batch | ms per mini-batch |\n| ---: | ---: |")
    for size, ms in per_size.items():
        print(f"| {size} | {ms:.3f} |")
    batches = -(-rows // trainer.batch_size)
    print(f"\nrows per retrain: {rows:,}, mini-batches of {trainer.batch_size}: {batches}")
    print(f"fixed cost (one-row mini-batches) per retrain: {batches * per_size[1]:.1f} ms")
    print(f"share of a 256-row mini-batch that is fixed cost: {per_size[1] / per_size[256]:.0%}")
    if args.trecs_json:
        trecs = json.loads(args.trecs_json.read_text())
        budget = trecs["seconds"] / trecs["steps"] / 30 * 1e3
        print(f"T-RECS {trecs['seconds']:.1f} s for {trecs['steps']} steps: 30x leaves {budget:.1f} ms a step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
