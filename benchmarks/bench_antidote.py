"""What antidote data costs (issue 12): one offline optimisation, and its overhead in the closed loop.

Part 1, offline. One antidote optimisation (``simlab.antidote.optimize``, gradient method,
polarization, 1% budget, rank 4, the default stopping rules and 3 restarts) on two-camp ratings
matrices of 300 x 500 and 3,000 x 2,000 (density 0.1, ``simlab.antidote.synthetic.two_camps``),
printed beside one converged ALS fit of the same matrix (the unit every iterate of the search
pays several times: one refit per line-search step) and, at 300 x 500, beside the authors'
algorithm (``simlab.antidote.reference``, a vectorised re-implementation of
rastegarpanah/antidote-data-framework's ``gradient_descent_LS``; its dense (n, d, r, r) Gram
tensors make it impractical at 3,000 x 2,000).

Part 2, closed loop. The flagship's society and DLRM feed at 10,000 users
(``benchmarks/bench_mitigations.py``'s scenario) with and without the ``antidote`` intervention
(1% budget = 100 synthetic users, re-optimised at every retrain, 5 gradient iterations, the
default probe of 200 users x 50 items). Retrain cycles (2 steps, one retrain) are timed after a
warm-up, the two configurations interleaved cycle by cycle so that load from other processes
hits both alike; the median cycle is reported, and the difference is the per-retrain overhead.

    python benchmarks/bench_antidote.py               # both parts, CPU, 1 thread
    python benchmarks/bench_antidote.py --quick       # small sizes, to check the script runs
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_mitigations import scenario as flagship_scenario  # benchmarks/ is on sys.path

from simlab.antidote import optimize
from simlab.antidote.optimize import prepare
from simlab.antidote.reference import reference_antidote
from simlab.antidote.synthetic import two_camps
from simlab.config.schema import Scenario
from simlab.loop.simulation import Simulation

SIZES = [(300, 500), (3000, 2000)]
QUICK_SIZES = [(100, 80), (200, 150)]  # smaller matrices at density 0.1 leave users or items with 1-2 ratings
REFERENCE_MAX_CELLS = 300 * 500  # the reference's dense Gram tensors: n * d * r^2 floats


def offline(n: int, d: int, rank: int = 4) -> None:
    ratings, _ = two_camps(n, d, density=0.1, seed=0)
    bounds = (1.0, 5.0)
    start = time.perf_counter()
    problem = prepare(ratings, rank=rank, bounds=bounds, seed=0)
    problem.fit(None)
    fit = time.perf_counter() - start

    start = time.perf_counter()
    result = optimize(ratings, budget=0.01, rank=rank, bounds=bounds, seed=0)
    seconds = time.perf_counter() - start
    iterations = sum(len(h) for h in result.histories)
    print(
        f"{n:>6,} x {d:<6,} {result.antidote.shape[0]:>4} antidote users  simlab gradient {seconds:8.2f} s "
        f"({iterations} iterates over {len(result.histories)} restarts, R_pol -{result.reduction:.1%})  "
        f"= {seconds / fit:6.0f} x one ALS fit ({fit:.3f} s)",
        flush=True,
    )
    if n * d <= REFERENCE_MAX_CELLS:
        start = time.perf_counter()
        antidote = reference_antidote(ratings, result.antidote.shape[0], rank=rank, bounds=bounds)
        ref_seconds = time.perf_counter() - start
        ref_after = problem.evaluate(torch.as_tensor(antidote, dtype=torch.float64))["polarization"]
        ref_reduction = 1 - ref_after / result.before["polarization"]
        print(
            f"{'':>15} authors' algorithm {ref_seconds:8.2f} s (R_pol -{ref_reduction:.1%} by simlab's "
            f"converged refit)  simlab / authors = {seconds / ref_seconds:.2f} x",
            flush=True,
        )


def closed_loop_scenario(users: int, device: str, antidote: bool) -> Scenario:
    """The mitigation benchmark's society and DLRM feed, with or without antidote data."""
    interventions = [{"type": "antidote", "budget": 0.01, "every": 1, "iterations": 5}] if antidote else []
    return flagship_scenario(users, device, interventions)


def closed_loop(users: int, device: str, warmup: int, cycles: int) -> None:
    sims = {
        name: Simulation(closed_loop_scenario(users, device, name == "antidote"), 0) for name in ("none", "antidote")
    }
    for sim in sims.values():
        for _ in range(2 * warmup):
            sim.step()
    seconds: dict[str, list[float]] = {name: [] for name in sims}
    for _ in range(cycles):
        for name, sim in sims.items():
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            sim.step()
            sim.step()
            if device == "cuda":
                torch.cuda.synchronize()
            seconds[name].append(time.perf_counter() - start)
    base, with_ = statistics.median(seconds["none"]), statistics.median(seconds["antidote"])
    print(f"{'configuration':<12} {'s/retrain cycle (2 steps)':>26} {'vs none':>8}")
    print(f"{'none':<12} {base:>26.3f} {1.0:>7.2f}x")
    print(f"{'antidote 1%':<12} {with_:>26.3f} {with_ / base:>7.2f}x")
    print(f"per-retrain overhead of antidote: {with_ - base:+.3f} s ({with_ / base - 1:+.1%} of the cycle)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run of the script)")
    parser.add_argument("--part", choices=["offline", "loop", "both"], default="both")
    parser.add_argument("--users", type=int, default=10_000, help="closed loop: real users")
    parser.add_argument("--warmup", type=int, default=1, help="closed loop: retrain cycles before timing")
    parser.add_argument("--cycles", type=int, default=3, help="closed loop: timed retrain cycles per configuration")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # more threads than cores makes the many small solves crawl
    users, cycles = (1000, 1) if args.quick else (args.users, args.cycles)

    if args.part in ("offline", "both"):
        print(f"bench_antidote offline: two-camp ratings, density 0.1, rank 4, 1% budget, {args.threads} thread(s)")
        for n, d in QUICK_SIZES if args.quick else SIZES:
            offline(n, d)
    if args.part in ("loop", "both"):
        print(
            f"bench_antidote closed loop: {users:,} users, DLRM feed, device {args.device}, {args.threads} thread(s); "
            f"median of {cycles} retrain cycles after {args.warmup} warm-up, interleaved"
        )
        closed_loop(users, args.device, args.warmup, cycles)


if __name__ == "__main__":
    main()
