"""Phenomenon 8 (Sîrbu et al. 2019), small version of scenarios/algorithmic_bias_sweep.yaml on the
dynamics alone: at gamma 0 and d = 0.5 (eps 1.0) opinions reach consensus; raising gamma
fragments them at d = 0.3 (eps 0.6) and slows convergence."""

import numpy as np
import torch

import simlab  # noqa: F401  (import the package first: it sets up the registries)
from simlab.core.state import Users
from simlab.society.dynamics import AlgorithmicBias
from simlab.society.network import Edges, to_graph

EMPTY = torch.zeros(0, dtype=torch.long)


def effective_clusters(x: np.ndarray, gap: float = 0.02) -> float:
    v = np.sort(x)
    sizes = np.diff(np.concatenate([[0], np.flatnonzero(np.diff(v) > gap) + 1, [v.size]]))
    return sizes.sum() ** 2 / (sizes**2).sum()


def run(gamma: float, eps: float, seed: int, n: int = 200, steps: int = 60) -> tuple[float, np.ndarray]:
    x = torch.tensor(np.random.default_rng(seed).uniform(-1, 1, n))[:, None]
    full = lambda v: torch.full((n,), v, dtype=torch.float64)  # noqa: E731
    users = Users(
        x, x.clone(), full(0.1), full(0.0), full(eps), torch.ones(n, 1), full(0.5), torch.zeros(n, dtype=torch.long)
    )
    graph = to_graph(Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), n), n)
    model = AlgorithmicBias(AlgorithmicBias.Settings(gamma=gamma, mixing="complete"))
    g = torch.Generator().manual_seed(seed)
    variance = []
    for _ in range(steps):
        users.opinion = model.update(users, EMPTY, EMPTY, None, graph, g)
        variance.append(users.opinion.var().item())
    return effective_clusters(users.opinion[:, 0].numpy()), np.array(variance)


def test_consensus_at_gamma_zero_and_fragmentation_with_gamma():
    consensus = [run(0.0, 1.0, s)[0] for s in range(3)]
    assert max(consensus) < 1.2
    unbiased = [run(0.0, 0.6, s) for s in range(3)]
    biased = [run(1.5, 0.6, s) for s in range(3)]
    assert np.mean([c for c, _ in biased]) > 1.5 * np.mean([c for c, _ in unbiased])
    # slower: the variance at step 10, relative to its start, falls less under bias
    assert np.mean([v[9] / v[0] for _, v in biased]) > np.mean([v[9] / v[0] for _, v in unbiased])
