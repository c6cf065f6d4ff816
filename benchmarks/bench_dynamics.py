"""Seconds per opinion-dynamics step at scale (not a test).

Default: N = 1e6 users, a random graph with E = 1e7 directed adjacency entries (5e6
undirected ties, mean degree 10) built with the vectorised G(n, p) sampler, 1e6 items and
one engagement per user per step. The state is built once and saved; each model runs in a fresh
(spawned) process that loads it, so its memory is measured on its own: "extra peak" is that
process's peak RSS minus its RSS once the state is loaded.

    python benchmarks/bench_dynamics.py [--users N] [--edges E] [--engagements M] [--repeats R]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
import warnings

import numpy as np
import torch

from simlab.core.state import Catalog, Users
from simlab.registry import DYNAMICS
from simlab.society.network import Edges, gnp_pairs, to_graph

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")

MODELS = {
    "assimilation": {"type": "assimilation", "beta_backfire": 0.5, "sigma_social": 0.1, "noise_std": 0.01},
    "degroot": {"type": "degroot"},
    "friedkin_johnsen": {"type": "friedkin_johnsen"},
    "deffuant (graph)": {"type": "bounded_confidence", "variant": "deffuant"},
    "deffuant (complete)": {"type": "bounded_confidence", "variant": "deffuant", "mixing": "complete"},
    "hegselmann_krause (graph)": {"type": "bounded_confidence", "variant": "hegselmann_krause"},
    "hegselmann_krause (complete, K=1)": {
        "type": "bounded_confidence",
        "variant": "hegselmann_krause",
        "mixing": "complete",
    },
    "biased_assimilation": {"type": "biased_assimilation"},
    "algorithmic_bias (graph)": {"type": "algorithmic_bias"},
    "algorithmic_bias (complete, 16 peers)": {"type": "algorithmic_bias", "mixing": "complete", "peers": 16},
    "none": {"type": "none"},
}

STATE: dict = {}


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def setup(n: int, edges: int, engagements: int, verbose: bool = True) -> None:
    import simlab.society.dynamics  # noqa: F401  (registers the models)

    t = time.perf_counter()
    u, v = gnp_pairs(np.random.default_rng(0), n, (edges / 2) / (n * (n - 1) / 2))
    graph = to_graph(Edges(u, v, n), n)
    build = time.perf_counter() - t
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    ones = torch.ones(n)
    users = Users(
        x,
        x.clone(),
        0.1 * ones,
        0.05 * ones,
        0.4 * ones,
        torch.ones(n, 1),
        0.5 * ones,
        torch.zeros(n, dtype=torch.long),
    )
    m = n
    zeros = torch.zeros(m, dtype=torch.long)
    catalog = Catalog(
        torch.rand(m, 1, generator=g) * 2 - 1, zeros, zeros, torch.zeros(m), zeros, torch.zeros(m), torch.zeros(m), m
    )
    engaged_user = torch.randint(n, (engagements,), generator=g)
    engaged_item = torch.randint(m, (engagements,), generator=g)
    STATE.update(users=users, graph=graph, catalog=catalog, eu=engaged_user, ei=engaged_item)
    if verbose:
        print(f"graph: N={n:,} users, E={graph.src.numel():,} directed entries, built in {build:.1f} s")
        print(f"engagements per step: {engagements:,}; torch threads: {torch.get_num_threads()}")
        print(f"RSS after setup: {rss_mib():,.0f} MiB\n", flush=True)


def run_one(name: str, path: str, repeats: int, queue: mp.Queue) -> None:
    import simlab.society.dynamics  # noqa: F401  (registers the models)

    STATE.update(torch.load(path, weights_only=False))
    base = rss_mib()
    model = DYNAMICS.build(MODELS[name])
    s = STATE
    g = torch.Generator().manual_seed(1)
    model.update(s["users"], s["eu"], s["ei"], s["catalog"], s["graph"], g)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = model.update(s["users"], s["eu"], s["ei"], s["catalog"], s["graph"], g)
        times.append(time.perf_counter() - t)
    assert out.shape == s["users"].opinion.shape and torch.isfinite(out).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    queue.put((min(times), float(np.median(times)), peak - base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000, help="directed adjacency entries")
    parser.add_argument("--engagements", type=int, default=None, help="default: one per user")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    setup(args.users, args.edges, args.engagements or args.users)
    path = os.path.join(tempfile.mkdtemp(), "state.pt")
    torch.save(dict(STATE), path)
    STATE.clear()
    # spawn, not fork: forking after torch has started its thread pool can deadlock
    context = mp.get_context("spawn")
    print(f"{'model':40s} {'best s/step':>12s} {'median':>9s} {'extra peak MiB':>15s}")
    for name in args.models:
        queue = context.Queue()
        child = context.Process(target=run_one, args=(name, path, args.repeats, queue))
        child.start()
        best, median, extra = queue.get()
        child.join()
        print(f"{name:40s} {best:12.3f} {median:9.3f} {extra:15,.0f}", flush=True)
    os.remove(path)
    print(
        f"\nsetup process peak RSS (graph generation): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
