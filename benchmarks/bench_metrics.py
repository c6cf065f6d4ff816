"""Per-step cost of every measure in ``simlab.metrics.measures`` at production scale.

Workload (defaults): 1e6 users with K opinion axes, a 1e5-item catalog with 20 topics and
Zipf-like popularity, 50% of users active with a slate of k = 10 (5e6 impressions), ~10% of
impressions engaged, a social graph of 1e7 directed edges (5e6 undirected; as in
``simlab.core.state.Graph`` both directions are stored, sorted by (src, dst), float32 weights), and a
1000 x 200 probe set for R_pol and unfairness. The arrays are built once on ``--device``; each
measure's ``*_t`` form (what the recorder calls) is run once to warm up and then timed
``--repeats`` times (median, with device synchronisation).

    python benchmarks/bench_metrics.py
    python benchmarks/bench_metrics.py --users 100000 --items 10000 --device cuda
    python benchmarks/bench_metrics.py --threads 1    # on a shared/busy CPU: OpenMP threads that
                                                      # wait for a busy core can cost 10-100x

``nearest_opinion_pairs`` is timed too but is not per-step (pairs are fixed at step 0) and is
left out of the total.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from simlab.metrics import measures as m

NOT_PER_STEP = {"nearest_opinion_pairs (once)"}


def make_step_arrays(
    n_users: int,
    n_items: int,
    device: torch.device,
    *,
    n_axes: int = 1,
    slate: int = 10,
    active: float = 0.5,
    engage: float = 0.1,
    n_topics: int = 20,
    n_edges: int = 10_000_000,
    probe: tuple[int, int] = (1000, 200),
    seed: int = 0,
) -> dict[str, Any]:
    """Synthetic arrays with the shapes and sizes one simulation step hands the recorder."""
    g = torch.Generator(device=device).manual_seed(seed)

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=g, device=device)

    opinion = (uniform(n_users, n_axes) * 2 - 1).pow(3)  # mass near the centre, some extremes
    stance = uniform(n_items, n_axes) * 2 - 1
    topic = torch.randint(n_topics, (n_items,), generator=g, device=device)
    popularity = 1.0 / torch.arange(1, n_items + 1, device=device, dtype=torch.float32).pow(0.8)

    active_users = torch.randperm(n_users, generator=g, device=device)[: int(active * n_users)].sort().values
    user = active_users.repeat_interleave(slate)  # (I,) impressions, slate by slate
    item = torch.multinomial(popularity, user.numel(), replacement=True, generator=g)
    probability = uniform(user.numel())
    label = (uniform(user.numel()) < 2 * engage * probability).float()
    score = probability + 0.3 * uniform(user.numel())
    engaged = label > 0
    extremeness = stance.abs().amax(dim=1)

    exposure_start = torch.full((n_users,), float("nan"), device=device)
    exposure_start[active_users] = uniform(active_users.numel())
    exposure_now = exposure_start + 0.2 * (uniform(n_users) - 0.4)

    half = n_edges // 2
    a, b = torch.randint(n_users, (2, half), generator=g, device=device)
    src, dst, weight = torch.cat([a, b]), torch.cat([b, a]), uniform(half).repeat(2)
    by_edge = (src * n_users + dst).argsort()  # Graph's edge list is sorted by (src, dst)
    probe_users, probe_items = probe
    return {
        "opinion": opinion,
        "user": user,
        "item": item,
        "label": label,
        "score": score,
        "probability": probability,
        "shown_extremeness": extremeness[item],
        "engaged_extremeness": extremeness[item[engaged]],
        "engaged_user": user[engaged],
        "engaged_item": item[engaged],
        "engaged_topic": topic[item[engaged]],
        "slate_features": stance[item].reshape(-1, slate, n_axes),
        "exposure_counts": torch.bincount(item, minlength=n_items),
        "exposure_now": exposure_now,
        "exposure_start": exposure_start,
        "src": src[by_edge],
        "dst": dst[by_edge],
        "weight": weight[by_edge],
        "probe_pred": uniform(probe_users, probe_items),
        "probe_loss": uniform(probe_users),
        "probe_group": torch.randint(2, (probe_users,), generator=g, device=device),
        "pairs": m.nearest_opinion_pairs(opinion[:, 0]),
        "n_users": n_users,
        "n_items": n_items,
        "n_topics": n_topics,
    }


def metric_calls(s: dict[str, Any]) -> dict[str, Callable[[], object]]:
    """One zero-argument call per metric column (docs/design.md §3 names), on the arrays of ``s``."""
    n_users, n_items, n_topics = s["n_users"], s["n_items"], s["n_topics"]
    return {
        "opinion_mean": lambda: m.opinion_mean_t(s["opinion"]),
        "opinion_variance": lambda: m.opinion_variance_t(s["opinion"]),
        "polarization_er": lambda: m.esteban_ray_t(s["opinion"]),
        "bimodality": lambda: m.bimodality_coefficient_t(s["opinion"]),
        "polarization_p+disagreement": lambda: m.polarization_disagreement_edges_t(
            s["src"], s["dst"], s["weight"], s["opinion"]
        ),
        "extremity": lambda: m.extremity_t(s["opinion"]),
        "extreme_user_share": lambda: m.extreme_share_t(s["opinion"]),
        "rpol": lambda: m.rpol_t(s["probe_pred"]),
        "exposure_extremeness": lambda: m.exposure_extremeness_t(s["shown_extremeness"]),
        "consumption_extremeness": lambda: m.consumption_extremeness_t(s["engaged_extremeness"]),
        "extreme_exposure_share": lambda: m.extreme_exposure_share_t(s["shown_extremeness"]),
        "exposure_drift_share": lambda: m.exposure_drift_share_t(s["exposure_now"], s["exposure_start"]),
        "slate_diversity": lambda: m.intra_list_diversity_t(s["slate_features"]),
        "topic_entropy": lambda: m.topic_entropy_t(torch.bincount(s["engaged_topic"], minlength=n_topics)),
        "mean_user_topic_entropy": lambda: m.mean_user_topic_entropy_t(
            s["engaged_user"], s["engaged_topic"], n_users, n_topics
        ),
        "coverage": lambda: m.coverage_t(s["item"], n_items),
        "exposure_gini": lambda: m.gini_t(s["exposure_counts"]),
        "homogenization": lambda: m.homogenization_t(s["engaged_user"], s["engaged_item"], n_users, s["pairs"]),
        "ctr": lambda: m.ctr_t(s["label"]),
        "engagement": lambda: m.engagement_t(s["label"], n_users),
        "auc": lambda: m.auc_t(s["label"], s["score"]),
        "logloss": lambda: m.logloss_t(s["label"], s["probability"]),
        "unfairness_individual": lambda: m.unfairness_individual_t(s["probe_loss"]),
        "unfairness_group": lambda: m.unfairness_group_t(s["probe_loss"], s["probe_group"]),
        "nearest_opinion_pairs (once)": lambda: m.nearest_opinion_pairs(s["opinion"][:, 0]),
    }


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------
# ENTRY POINT FOR THE STEP-RATIO BENCHMARK: returns {metric: median seconds per call}; the
# "total (per step)" key sums the per-step metrics. Compare it with one engine step's time.
# ---------------------------------------------------------------------------------------------
def time_all_metrics(
    n_users: int = 1_000_000,
    n_items: int = 100_000,
    device: str | torch.device = "cpu",
    *,
    repeats: int = 3,
    **workload: object,
) -> dict[str, float]:
    """Median seconds of each metric on one step's arrays (see :func:`make_step_arrays`)."""
    device = torch.device(device)
    arrays = make_step_arrays(n_users, n_items, device, **workload)
    timings = {name: _timed(fn, device, repeats) for name, fn in metric_calls(arrays).items()}
    timings["total (per step)"] = sum(t for name, t in timings.items() if name not in NOT_PER_STEP)
    return timings


def time_engine_step(
    n_users: int = 1_000_000, n_items: int = 100_000, device: str | torch.device = "cpu", steps: int = 3
) -> dict[str, float]:
    """Median seconds of one closed-loop step at this size, and of the recorder's share of it.

    A real :class:`simlab.loop.simulation.Simulation` (popularity feed, 50% active users, slate 10, 100
    candidates, mean degree 10, all metrics); step 0 (which also fixes probe sets and user pairs)
    is left out.
    """
    import simlab
    from simlab.loop.simulation import Simulation

    doc = {
        "name": "bench_metrics",
        "population": {"type": "uniform", "size": n_users, "activity": 0.5},
        "network": {"type": "erdos_renyi", "mean_degree": 10},
        "catalog": {"type": "default", "size": n_items, "topics": 20, "creators": max(n_items // 100, 1)},
        "recommender": {"type": "popularity", "log_capacity": min(2 * n_users * 10, 10_000_000)},
    }
    sim = Simulation(simlab.load_scenario(doc), 0, device)
    record, spent = sim.recorder.record, []

    def timed_record(ctx: Any) -> dict[str, float]:
        start = time.perf_counter()
        row = record(ctx)
        spent.append(time.perf_counter() - start)
        return row

    sim.recorder.record = timed_record  # type: ignore[method-assign]
    step_times = []
    for _ in range(steps):
        start = time.perf_counter()
        sim.step()
        step_times.append(time.perf_counter() - start)
    step, metrics = statistics.median(step_times[1:]), statistics.median(spent[1:])
    return {"step (all metrics)": step, "metrics": metrics, "step without metrics": step - metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--axes", type=int, default=1, help="opinion axes K")
    parser.add_argument("--edges", type=int, default=10_000_000, help="directed social-graph edges")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-step", action="store_true", help="skip timing a real engine step at this size")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    timings = time_all_metrics(
        args.users, args.items, args.device, repeats=args.repeats, n_axes=args.axes, n_edges=args.edges
    )
    print(
        f"users={args.users:,} items={args.items:,} K={args.axes} edges={args.edges:,} device={args.device} "
        f"torch={torch.__version__} threads={torch.get_num_threads()}"
    )
    for name, seconds in timings.items():
        print(f"{name:<32s} {seconds * 1e3:10.1f} ms")
    print(f"(benchmark wall time incl. data generation: {time.perf_counter() - start:.1f} s)")
    if not args.skip_step:
        step = time_engine_step(args.users, args.items, args.device)
        for name, seconds in step.items():
            print(f"engine {name:<25s} {seconds * 1e3:10.1f} ms")
        ratio = step["metrics"] / step["step without metrics"]
        print(f"recorded metrics / one simulation step: {ratio:.1%} (target <= 10%)")
        ratio = timings["total (per step)"] / step["step without metrics"]
        print(f"all measure functions above / one simulation step: {ratio:.1%}")


if __name__ == "__main__":
    main()
