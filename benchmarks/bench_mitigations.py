"""Per-step cost of each mitigation at 100,000 users with the DLRM feed (issue 11).

One simulation per configuration (no mitigation, then each of the seven at the strength of
scenarios/mitigations.yaml), all built from the same seed. After a warm-up, each is timed
over retrain cycles (``retrain_every`` = 2 steps, so every cycle holds one retrain), the
configurations interleaved cycle by cycle so that load from other processes on a shared
machine hits all of them alike; the median cycle is reported per step, and as a share of the
unmitigated step. Target: each mitigation adds at most 25%.

    python benchmarks/bench_mitigations.py                # 100,000 users, CPU
    python benchmarks/bench_mitigations.py --users 20000 --cycles 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import simlab
from simlab.config.schema import Scenario
from simlab.loop.simulation import Simulation

MITIGATIONS = {
    "none": [],
    "mmr": [{"type": "mmr", "lam": 0.5}],
    "extremeness_penalty": [{"type": "extremeness_penalty", "weight": 0.5, "noise": 0.2}],
    "calibrated": [{"type": "calibrated", "lam": 0.5}],
    "random_injection": [{"type": "random_injection", "share": 0.2}],
    "bridging": [{"type": "bridging", "weight": 0.5}],
    "diversity_cap": [{"type": "diversity_cap", "cap": 2, "by": "topic"}],
    "chronological_mix": [{"type": "chronological_mix", "share": 0.3}],
}


def scenario(users: int, device: str, interventions: list[dict]) -> Scenario:
    """The flagship's society and DLRM feed (scenarios/dlrm_engagement.yaml) at ``users``."""
    return simlab.load_scenario(
        {
            "name": "bench_mitigations",
            "seed": 11,
            "device": device,
            "population": {
                "type": "uniform",
                "size": users,
                "susceptibility": 0.08,
                "anchoring": 0.01,
                "confidence": 0.6,
                "activity": 0.5,
            },
            "network": {"type": "sbm", "blocks": 4, "mean_degree": 8, "homophily": 0.8},
            "catalog": {
                "type": "default",
                "size": users // 10,
                "topics": 12,
                "creators": users // 100,
                "new_per_step": users // 100,
                "item_spread": 0.15,
            },
            "behavior": {"type": "default", "b0": -2.0, "b_align": 2.5, "b_ext": 2.5, "b_topic": 1.0},
            "dynamics": {"type": "assimilation", "beta_backfire": 0.3, "rho": 1.2, "sigma_social": 0.02},
            "recommender": {
                "type": "dlrm",
                "retrain_every": 2,
                "slate_size": 10,
                "candidates": {"size": 100},
                "embedding_dim": 16,
                "window": 20,
                "window_unit": "steps",
                "batch_size": 2048,
                "lr": 0.05,
            },
            "interventions": interventions,
            "metrics": {"include": ["ctr"]},  # the loop, not the metrics, is measured
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=1, help="retrain cycles (2 steps) before timing")
    parser.add_argument("--cycles", type=int, default=3, help="timed retrain cycles per configuration")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    sims = {name: Simulation(scenario(args.users, args.device, spec), 0) for name, spec in MITIGATIONS.items()}
    for sim in sims.values():
        for _ in range(2 * args.warmup):
            sim.step()
    seconds: dict[str, list[float]] = {name: [] for name in sims}
    for _ in range(args.cycles):
        for name, sim in sims.items():
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            sim.step()
            sim.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            seconds[name].append((time.perf_counter() - start) / 2)

    base = statistics.median(seconds["none"])
    print(
        f"bench_mitigations: {args.users:,} users, DLRM feed, device {args.device}, {args.threads} thread(s); "
        f"median of {args.cycles} retrain cycles (2 steps) after {args.warmup} warm-up, interleaved"
    )
    print(f"{'configuration':<22} {'s/step':>8} {'vs none':>9} {'added':>8}  target <= +25%")
    for name, values in seconds.items():
        median = statistics.median(values)
        added = median / base - 1
        verdict = "" if name == "none" else ("ok" if added <= 0.25 else "MISSES")
        print(f"{name:<22} {median:>8.3f} {median / base:>8.2f}x {added:>+7.1%}  {verdict}")


if __name__ == "__main__":
    main()
