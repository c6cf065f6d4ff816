"""simlab's algorithmic-bias model against the one-encounter-at-a-time rule of Sîrbu et al. (2019)
as ndlib's ``AlgorithmicBiasModel.iteration`` runs it (not a test; a fidelity check).

1. Share of effective encounters (|d| < eps, those that move opinions) on fixed, clustered
   opinion states: the sequential reference, simlab's encounter rule, and simlab's former rule
   (every user proposes a partner, then one random matching keeps disjoint pairs).
2. Clusters after a fixed number of iterations on an Erdos-Renyi graph (d = 0.3 on [0, 1], i.e. eps = 0.6 here;
   gamma = 1; mu = 1/2): a numpy port of ndlib's iteration (N sequential encounters, each partner
   drawn from the current opinions) against simlab, on the same graphs and initial opinions.

    python benchmarks/algorithmic_bias_vs_ndlib.py [--users 300] [--degree 20] [--seeds 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import simlab  # noqa: F401  (import the package first: it sets up the registries)
from simlab.core.state import Users
from simlab.society.dynamics import AlgorithmicBias, random_matching
from simlab.society.dynamics.bounded_confidence import _pairwise_step
from simlab.society.network import Edges, gnp_pairs, to_graph

FLOOR = 1e-6


def users_of(x: np.ndarray, eps: float) -> Users:
    n = x.size
    full = lambda v: torch.full((n,), v, dtype=torch.float64)  # noqa: E731
    t = torch.tensor(x)[:, None]
    return Users(
        t, t.clone(), full(0.1), full(0.0), full(eps), torch.ones(n, 1), full(0.5), torch.zeros(n, dtype=torch.long)
    )


def neighbour_lists(graph, n: int) -> list[np.ndarray]:
    src, dst = graph.src.numpy(), graph.dst.numpy()
    return [dst[src == i] for i in range(n)]


def reference_iteration(x: np.ndarray, neighbours: list[np.ndarray], eps: float, gamma: float, rng) -> None:
    """ndlib's iteration in place: N encounters one after another on the current opinions."""
    n = x.size
    for _ in range(n):
        i = int(rng.integers(n))
        peers = neighbours[i]
        if peers.size == 0:
            continue
        w = np.maximum(np.abs(x[peers] - x[i]), FLOOR) ** -gamma
        j = int(peers[min(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"), peers.size - 1)])
        if abs(x[i] - x[j]) < eps:
            x[i] = x[j] = (x[i] + x[j]) / 2


def former_rule(model: AlgorithmicBias, x: torch.Tensor, graph, g: torch.Generator):
    """simlab before issue 15: every user proposes one partner, then one random matching."""
    n = x.shape[0]
    src, dst = graph.src, graph.dst
    key = model._log_weight((x[dst] - x[src]).norm(dim=1)) + model._gumbel(src.shape, g, x.double())
    best = torch.full((n,), -torch.inf, dtype=key.dtype).scatter_reduce_(0, src, key, reduce="amax")
    pick = torch.full((n,), src.numel()).scatter_reduce_(
        0, src, torch.where(key == best[src], torch.arange(src.numel()), src.numel()), reduce="amin"
    )
    has = pick < src.numel()
    return random_matching(torch.arange(n)[has], dst[pick[has]], n, g)


def clusters(x: np.ndarray, gap: float = 0.02) -> tuple[int, float]:
    """(groups split at gaps > gap, effective number (sum S)^2 / sum S^2) on [-1, 1]."""
    v = np.sort(x)
    cuts = np.flatnonzero(np.diff(v) > gap)
    sizes = np.diff(np.concatenate([[0], cuts + 1, [v.size]]))
    return sizes.size, float(sizes.sum() ** 2 / (sizes**2).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--degree", type=float, default=20.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=200)
    args = ap.parse_args()
    n, eps, gamma = args.users, 0.6, 1.0

    print(
        "1. effective encounters on fixed opinions (half in tight clusters, half uniform; eps 0.3 on [0,1], gamma 1.5)"
    )
    rng = np.random.default_rng(0)
    centres = rng.choice([-0.8, -0.2, 0.5], n)
    x = np.where(rng.random(n) < 0.5, centres + rng.normal(0, 0.01, n), rng.uniform(-1, 1, n))
    graph = to_graph(Edges(*gnp_pairs(np.random.default_rng(1), n, args.degree / n), n), n)
    neighbours = neighbour_lists(graph, n)
    model = AlgorithmicBias(AlgorithmicBias.Settings(gamma=1.5, distance_floor=FLOOR, encounters=50))
    xt = torch.tensor(x)[:, None]
    g = torch.Generator().manual_seed(0)
    a, b = model.encounters(xt, graph, g)
    new = (np.abs(x[a] - x[b]) < 0.6).mean()
    old_hits = old_total = 0
    for _ in range(200):
        a, b = former_rule(model, xt, graph, g)
        old_hits += int((np.abs(x[a] - x[b]) < 0.6).sum())
        old_total += a.numel()
    hits = 0
    for _ in range(15000):
        i = int(rng.integers(n))
        w = np.maximum(np.abs(x[neighbours[i]] - x[i]), FLOOR) ** -1.5
        j = neighbours[i][min(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"), w.size - 1)]
        hits += abs(x[i] - x[j]) < 0.6
    ref = hits / 15000
    old = old_hits / old_total
    print(
        f"   share of encounters with |d| < eps: reference {ref:.4f}, simlab {new:.4f} ({new / ref - 1:+.1%}), "
        f"former rule {old:.4f} ({old / ref - 1:+.1%})"
    )
    print(
        f"   effective encounters per user per step: reference {ref:.3f}, simlab {new:.3f}, "
        f"former rule {old_hits / 200 / n:.3f} ({old_hits / 200 / n / ref - 1:+.1%})"
    )

    print(
        f"2. clusters after {args.iterations} iterations, ER graph N={n}, mean degree {args.degree:g}, "
        f"eps 0.3 on [0,1], gamma {gamma:g} (groups split at gaps > 0.01 on [0,1]; effective number)"
    )
    empty = torch.zeros(0, dtype=torch.long)
    rows = {"reference (ndlib's rule)": [], "simlab": [], "simlab former rule": []}
    for seed in range(args.seeds):
        rng = np.random.default_rng(100 + seed)
        graph = to_graph(Edges(*gnp_pairs(rng, n, args.degree / n), n), n)
        x0 = rng.uniform(-1, 1, n)
        ref = x0.copy()
        neighbours = neighbour_lists(graph, n)
        for _ in range(args.iterations):
            reference_iteration(ref, neighbours, eps, gamma, rng)
        rows["reference (ndlib's rule)"].append(clusters(ref))
        model = AlgorithmicBias(AlgorithmicBias.Settings(gamma=gamma, distance_floor=FLOOR))
        users, g = users_of(x0, eps), torch.Generator().manual_seed(seed)
        for _ in range(args.iterations):
            users.opinion = model.update(users, empty, empty, None, graph, g)
        rows["simlab"].append(clusters(users.opinion[:, 0].numpy()))
        x, g = torch.tensor(x0)[:, None], torch.Generator().manual_seed(seed)
        conf = torch.full((n,), eps, dtype=torch.float64)
        for _ in range(args.iterations):
            x = _pairwise_step(x, conf, *former_rule(model, x, graph, g), 0.5)
        rows["simlab former rule"].append(clusters(x[:, 0].numpy()))
    for name, values in rows.items():
        count, effective = np.mean(values, axis=0)
        print(
            f"   {name:26s} clusters {count:6.1f}   effective clusters {effective:6.2f}   (mean of {args.seeds} seeds)"
        )


if __name__ == "__main__":
    main()
