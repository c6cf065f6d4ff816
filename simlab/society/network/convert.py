"""Conversion of a generated graph to the sparse tensors the vectorised code uses.

:func:`to_graph` accepts a networkx graph or an :class:`Edges` bundle and produces the
:class:`simlab.core.state.Graph`; :func:`build_graph` builds a network component's graph and
converts it. Edge direction: an edge (u, v) puts v in u's row of the adjacency, i.e. u listens to
v (x_u is pulled toward x_v). Undirected graphs get both directions.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import torch

from simlab.core.state import Edges, Graph, Users

if TYPE_CHECKING:
    from simlab.core.protocols import Network


def to_graph(
    g_or_edges: nx.Graph | Edges, n: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Graph:
    """Convert a networkx graph or :class:`Edges` on nodes 0..n-1 to a :class:`simlab.core.state.Graph`.

    Returns ``dtype`` tensors (the run's precision; the weights are computed in float64 and
    rounded once) on ``device``: adjacency (N, N) sparse CSR with row i holding
    w_ij / d_i (rows of isolated nodes stay zero; no division by zero); src, dst, weight (E,)
    the directed edge list with raw weights, both directions for an undirected graph (a
    self-loop is listed once), sorted by (src, dst); degree (N,) the weighted out-degree d_i.
    Repeated directed edges are merged by summing their weights. networkx edge attribute
    ``weight`` is used when present (default 1).
    """
    device = torch.device(device)
    if isinstance(g_or_edges, nx.Graph):
        edges = _edges_from_networkx(g_or_edges, n)
    elif isinstance(g_or_edges, Edges):
        edges = g_or_edges
    else:
        raise TypeError(f"to_graph needs a networkx graph or Edges, got {type(g_or_edges).__name__}")
    if edges.n != n:
        raise ValueError(f"graph has {edges.n} nodes but the population has {n} users")
    src = np.asarray(edges.src, dtype=np.int64)
    dst = np.asarray(edges.dst, dtype=np.int64)
    weight = np.ones(src.size) if edges.weight is None else np.asarray(edges.weight, dtype=np.float64)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError(f"edge endpoints must be node ids in [0, {n})")
    if not edges.directed:
        mirror = src != dst
        src, dst = np.concatenate([src, dst[mirror]]), np.concatenate([dst, src[mirror]])
        weight = np.concatenate([weight, weight[mirror]])
    # sort by (src, dst) and merge repeats, giving the CSR layout directly
    key = src * n + dst
    unique_key, inverse = np.unique(key, return_inverse=True)
    weight = np.bincount(inverse, weights=weight, minlength=unique_key.size).astype(np.float64)
    src, dst = unique_key // n, unique_key % n
    degree = np.bincount(src, weights=weight, minlength=n).astype(np.float64)
    values = np.divide(weight, degree[src], out=np.zeros_like(weight), where=degree[src] > 0)
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=crow[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        warnings.filterwarnings("ignore", message=".*Sparse invariant checks.*")
        adjacency = torch.sparse_csr_tensor(
            torch.from_numpy(crow),
            torch.from_numpy(dst),
            torch.from_numpy(values).to(dtype),
            (n, n),
        ).to(device)
    return Graph(
        adjacency=adjacency,
        src=torch.from_numpy(src).to(device),
        dst=torch.from_numpy(dst).to(device),
        weight=torch.from_numpy(weight).to(device=device, dtype=dtype),
        degree=torch.from_numpy(degree).to(device=device, dtype=dtype),
    )


def _edges_from_networkx(graph: nx.Graph, n: int) -> Edges:
    nodes = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes()) if len(graph) else np.zeros(0)
    if len(graph) != n or (nodes.size and (nodes.min() != 0 or nodes.max() != n - 1)):
        raise ValueError(f"networkx graph must have nodes 0..{n - 1}, got {len(graph)} nodes")
    data = list(graph.edges(data="weight", default=1.0))
    src = np.fromiter((e[0] for e in data), dtype=np.int64, count=len(data))
    dst = np.fromiter((e[1] for e in data), dtype=np.int64, count=len(data))
    weight = np.fromiter((e[2] for e in data), dtype=np.float64, count=len(data))
    return Edges(src, dst, n, weight, graph.is_directed())


def build_graph(
    component: Network, users: Users, seed: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Graph:
    """``to_graph(component.build(users, seed), users.n, device, dtype)``."""
    return to_graph(component.build(users, seed), users.n, device, dtype)
