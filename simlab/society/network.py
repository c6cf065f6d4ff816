"""Social graphs (docs/design.md §2 "Social graph") and their conversion to sparse tensors.

Each NETWORKS type has a pydantic ``Settings`` and ``build(users, seed)`` returning either a
networkx graph on nodes 0..N-1 or, for generators that must scale to 1e5–1e6 users, an
:class:`Edges` array bundle (networkx spends ~1 kB per edge; 1e7 edges would not fit).
:func:`to_graph` accepts both and produces the :class:`simlab.core.state.Graph` the vectorised code
uses; :func:`build_graph` does both steps.

Edge direction: an edge (u, v) puts v in u's row of the adjacency, i.e. u listens to v
(x_u is pulled toward x_v). Undirected graphs get both directions.

Random graphs use ``numpy.random.default_rng(seed)``; the same seed gives the same graph.
"""

from __future__ import annotations

import abc
import array
import functools
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simlab.core.state import Edges, Graph, Users
from simlab.society.datafiles import (
    DataFileError,
    check_regular_file,
    data_lines,
    data_path,
    file_key,
    is_header,
    parse_integer,
    parse_number,
    split_fields,
    token_kind,
)

if TYPE_CHECKING:  # (protocols imports this module's Edges)
    from simlab.core.protocols import Network

__all__ = [
    "BarabasiAlbert",
    "EdgeList",
    "Edges",
    "EmptyNetwork",
    "ErdosRenyi",
    "KarateClub",
    "StochasticBlockModel",
    "WattsStrogatz",
    "build_graph",
    "gnp_pairs",
    "read_edge_list",
    "to_graph",
]

# Below this many candidate pairs, Bernoulli-sample every pair (exact and cheap); above it,
# sample the edge count and then distinct random pairs (memory O(E) instead of O(N^2)).
_ENUMERATE_LIMIT = 2_000_000


# ---------------------------------------------------------------------------------------------
# vectorised random pair sampling


def _unrank_pairs(rank: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Map ranks r in [0, size*(size-1)/2) to pairs u < v (row-major over the strict upper triangle)."""
    # u is the largest integer with u*(2*size - u - 1)/2 <= r; solve the quadratic, then fix rounding.
    r = rank.astype(np.float64)
    b = 2 * size - 1
    u = np.floor((b - np.sqrt(b * b - 8 * r)) / 2).astype(np.int64)
    start = u * (2 * size - u - 1) // 2
    u = np.where(start > rank, u - 1, u)
    start = u * (2 * size - u - 1) // 2
    nxt = (u + 1) * (2 * size - u - 2) // 2
    u = np.where(nxt <= rank, u + 1, u)
    start = u * (2 * size - u - 1) // 2
    v = rank - start + u + 1
    return u, v


def gnp_pairs(
    rng: np.random.Generator, size_a: int, p: float, size_b: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each possible pair independently with probability p (Gilbert's G(n, p)); vectorised.

    With ``size_b`` None: pairs u < v within one set of ``size_a`` nodes; otherwise every
    (u, v) in [0, size_a) x [0, size_b). Returns local indices (u, v), each (E,) int64.
    The number of edges is Binomial(pairs, p); given it, the edge set is uniform — sampled as
    distinct ranks, so memory is O(E), never O(pairs).
    """
    total = size_a * (size_a - 1) // 2 if size_b is None else size_a * size_b
    if total == 0 or p <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    p = min(p, 1.0)
    if total <= _ENUMERATE_LIMIT:
        ranks = np.flatnonzero(rng.random(total) < p).astype(np.int64)
    else:
        m = int(rng.binomial(total, p))
        ranks = np.zeros(0, dtype=np.int64)
        while ranks.size < m:  # top up until m distinct ranks; few rounds when m << total
            need = m - ranks.size
            extra = rng.integers(0, total, size=need + need // 10 + 16, dtype=np.int64)
            merged = np.concatenate([ranks, extra])
            _, first = np.unique(merged, return_index=True)
            ranks = merged[np.sort(first)][:m]  # keep draw order so truncation stays uniform
        ranks = np.sort(ranks)
    if size_b is None:
        return _unrank_pairs(ranks, size_a)
    return ranks // size_b, ranks % size_b


# ---------------------------------------------------------------------------------------------
# network types


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Network(abc.ABC):
    Settings = _Settings

    def __init__(self, settings: BaseModel | None = None):
        self.settings = settings if settings is not None else self.Settings()

    @abc.abstractmethod
    def build(self, users: Users, seed: int) -> nx.Graph | Edges:
        """The graph on nodes 0..N-1 (a networkx graph, or Edges when too big for networkx)."""


class ErdosRenyi(_Network):
    """Erdős–Rényi G(N, p) with p = mean_degree / (N - 1), vectorised (scales to 1e6 nodes)."""

    class Settings(_Settings):
        mean_degree: float = Field(10.0, ge=0.0, description="expected degree d; p = d / (N - 1)")

    settings: Settings

    def build(self, users: Users, seed: int) -> Edges:
        n = users.n
        p = self.settings.mean_degree / max(n - 1, 1)
        u, v = gnp_pairs(np.random.default_rng(seed), n, p)
        return Edges(u, v, n)


class BarabasiAlbert(_Network):
    """Barabási–Albert preferential attachment, each new node attaching m edges (networkx)."""

    class Settings(_Settings):
        m: int = Field(3, ge=1, le=10_000, description="edges each new node attaches (needs m < N)")

    settings: Settings

    @staticmethod
    def check_scenario(scenario: dict) -> tuple[str, str] | None:
        """Load-time check: each new node attaches to m existing ones, so m < N."""
        return _below_size(scenario, "m", "barabasi_albert")

    def build(self, users: Users, seed: int) -> nx.Graph:
        n, m = users.n, self.settings.m
        if m >= n:
            raise ValueError(f"barabasi_albert needs m < N, got m={m}, N={n}")
        return nx.barabasi_albert_graph(n, m, seed=seed)


class WattsStrogatz(_Network):
    """Watts–Strogatz small world: ring lattice of degree k, each edge rewired with probability p.

    Vectorised: rewiring moves the far end to a uniform random node; the few rewired edges
    that become self-loops or duplicates are redrawn (up to 20 rounds) and then dropped, so the
    edge count can fall short of N*k/2 by O(k^2) edges. networkx instead redraws until valid.
    """

    class Settings(_Settings):
        k: int = Field(
            4, ge=2, le=10_000, description="ring-lattice degree (each node links to k // 2 on each side; k < N)"
        )
        p: float = Field(0.1, ge=0.0, le=1.0, description="probability that an edge is rewired")

    settings: Settings

    @staticmethod
    def check_scenario(scenario: dict) -> tuple[str, str] | None:
        """Load-time check: a ring lattice of degree k needs k < N."""
        return _below_size(scenario, "k", "watts_strogatz")

    def build(self, users: Users, seed: int) -> Edges:
        n, k, p = users.n, self.settings.k, self.settings.p
        if k >= n:
            raise ValueError(f"watts_strogatz needs k < N, got k={k}, N={n}")
        rng = np.random.default_rng(seed)
        half = k // 2
        u = np.repeat(np.arange(n, dtype=np.int64), half)
        v = (u + np.tile(np.arange(1, half + 1, dtype=np.int64), n)) % n
        rewire = rng.random(u.size) < p
        v = v.copy()
        v[rewire] = rng.integers(0, n, size=int(rewire.sum()))
        for _ in range(20):
            bad = rewire & _invalid(u, v, n)
            if not bad.any():
                break
            v[bad] = rng.integers(0, n, size=int(bad.sum()))
        keep = ~_invalid(u, v, n)
        return Edges(u[keep], v[keep], n)


def _below_size(scenario: dict, field: str, name: str, allow_equal: bool = False) -> tuple[str, str] | None:
    """(field, message) when the network setting ``field`` is not below (or at most) N."""
    from simlab.society.population import population_size

    n, value = population_size(scenario["population"]), scenario["network"][field]
    if value > n or (value == n and not allow_equal):
        bound = "<=" if allow_equal else "<"
        return field, f"expected {field} {bound} N = {n} (the population size) for {name}, found {value}"
    return None


def _invalid(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Self-loops and every repeat after the first of an undirected pair."""
    key = np.minimum(u, v) * n + np.maximum(u, v)
    _, first = np.unique(key, return_index=True)
    dup = np.ones(u.size, dtype=bool)
    dup[first] = False
    return dup | (u == v)


class StochasticBlockModel(_Network):
    """Stochastic block model with opinion homophily (Holland, Laskey & Leinhardt 1983).

    Users are sorted by opinion axis 0 and cut into ``blocks`` equal-size blocks (block 0 the
    most negative). Pairs in the same block link with p_in, others with p_out. Give p_in and
    p_out directly, or (default) ``mean_degree`` d and ``homophily`` h in [0, 1], the expected
    share of a node's edges inside its block: p_in*(N/B - 1) = h*d and p_out*(N - N/B) = (1-h)*d.
    h = 1/B is no homophily (Erdős–Rényi).
    """

    class Settings(_Settings):
        # build() draws each pair of blocks in turn (B^2/2 draws): 256 blocks take 0.1 s, 5000
        # would take minutes and gigabytes (and is no longer a model of opinion camps)
        blocks: int = Field(
            2, ge=1, le=256, description="B equal-size blocks of users sorted by opinion axis 0 (B <= N)"
        )
        mean_degree: float = Field(10.0, ge=0.0, description="expected degree d (unless p_in and p_out are given)")
        homophily: float = Field(
            0.8, ge=0.0, le=1.0, description="h, expected share of a node's edges inside its block (1/B = none)"
        )
        p_in: float | None = Field(None, ge=0.0, le=1.0, description="edge probability within a block (with p_out)")
        p_out: float | None = Field(None, ge=0.0, le=1.0, description="edge probability between blocks (with p_in)")

        @model_validator(mode="after")
        def _both_or_neither(self) -> StochasticBlockModel.Settings:
            if (self.p_in is None) != (self.p_out is None):
                raise ValueError("give both p_in and p_out, or neither (then mean_degree and homophily apply)")
            return self

    settings: Settings

    @staticmethod
    def check_scenario(scenario: dict) -> tuple[str, str] | None:
        """Load-time check: every block needs a user."""
        return _below_size(scenario, "blocks", "sbm", allow_equal=True)

    def probabilities(self, n: int) -> tuple[float, float]:
        s = self.settings
        if s.p_in is not None and s.p_out is not None:
            return s.p_in, s.p_out
        block = n / s.blocks
        p_in = s.homophily * s.mean_degree / max(block - 1, 1)
        p_out = (1 - s.homophily) * s.mean_degree / max(n - block, 1)
        return min(p_in, 1.0), min(p_out, 1.0)

    def blocks_of(self, users: Users) -> np.ndarray:
        """(N,) block index of each user, by quantile of opinion axis 0."""
        n, b = users.n, self.settings.blocks
        order = np.argsort(users.opinion[:, 0].detach().cpu().numpy(), kind="stable")
        block = np.empty(n, dtype=np.int64)
        block[order] = np.arange(n) * b // n
        return block

    def build(self, users: Users, seed: int) -> Edges:
        n, b = users.n, self.settings.blocks
        rng = np.random.default_rng(seed)
        p_in, p_out = self.probabilities(n)
        block = self.blocks_of(users)
        members = [np.flatnonzero(block == i) for i in range(b)]
        src, dst = [], []
        for i in range(b):  # loops over blocks only (B is small), never over users
            for j in range(i, b):
                if i == j:
                    u, v = gnp_pairs(rng, members[i].size, p_in)
                else:
                    u, v = gnp_pairs(rng, members[i].size, p_out, members[j].size)
                src.append(members[i][u])
                dst.append(members[j][v])
        return Edges(np.concatenate(src), np.concatenate(dst), n)


class KarateClub(_Network):
    """Zachary's karate club (34 members); ``weighted`` uses the interaction counts as weights."""

    class Settings(_Settings):
        weighted: bool = Field(False, description="use the interaction counts as edge weights (else weight 1)")

    settings: Settings

    @staticmethod
    def check_scenario(scenario: dict) -> str | None:
        """Cross-component check at load time (see simlab.config)."""
        size = scenario["population"].get("size")
        if size is not None and size != 34:
            return f"expected population.size 34 for karate_club (34 members), found {size}"
        return None

    def build(self, users: Users, seed: int) -> nx.Graph:
        if users.n != 34:
            raise ValueError(f"karate_club has 34 members; set population size to 34 (got {users.n})")
        graph = nx.karate_club_graph()
        if not self.settings.weighted:
            nx.set_edge_attributes(graph, 1.0, "weight")
        return graph


class EdgeList(_Network):
    """Edges read from a text file: see :func:`read_edge_list`."""

    data_files = ("path",)  # settings that name data files (pinned and hashed by a run)

    class Settings(_Settings):
        path: str = Field(description="edge-list file: CSV or whitespace-separated `u v [weight]` rows, ids 0..N-1")
        directed: bool = Field(
            False, description="directed: `u v` means u listens to v (else each edge links both ways)"
        )

        @model_validator(mode="after")
        def _file_exists(self) -> EdgeList.Settings:
            if not data_path(self.path).is_file():
                raise ValueError(f"an existing edge-list file for path, found no file at {self.path!r}")
            return self

    settings: Settings

    @staticmethod
    def check_files(scenario: dict) -> None:
        """Load-time check of the whole file against the population size; raises DataFileError."""
        from simlab.society.population import population_size

        network = scenario["network"]
        edge_list_size(network["path"], population_size(scenario["population"]), network["directed"])

    def build(self, users: Users, seed: int) -> Edges:
        return read_edge_list(self.settings.path, users.n, directed=self.settings.directed)


class EmptyNetwork(_Network):
    """No social ties: every user is isolated."""

    def build(self, users: Users, seed: int) -> Edges:
        empty = np.zeros(0, dtype=np.int64)
        return Edges(empty, empty, users.n)


# ---------------------------------------------------------------------------------------------
# edge-list files


def read_edge_list(path: str | Path, n: int, directed: bool = False) -> Edges:
    """Read ``u v [weight]`` rows (comma or whitespace separated) from a text file.

    Lines starting with ``#`` and blank lines are skipped, a UTF-8 byte-order mark is dropped,
    and a first line of column names (``u v`` or ``u,v,weight``) is a header. Node ids are integers in [0, n); weights are finite and >= 0 (default 1).
    Directed: "u v" means u listens to v. Undirected: (u, v) and (v, u) are the same edge and a
    repeated edge keeps the weight of its last line (as networkx's read_edgelist does).
    Raises :class:`DataFileError` (a ValueError) naming the file and line for any malformed
    row; the message says what kind of token was wrong, never the line's content.
    """
    path = data_path(path)
    src, dst, weight = array.array("q"), array.array("q"), array.array("d")
    width, comma, first = 0, False, True
    for number, text in data_lines(path, "edge list"):
        if first:
            comma = "," in text
        fields = split_fields(text, comma)
        if first and is_header(fields):
            first = False
            continue
        first = False
        if len(fields) not in (2, 3) or (width and len(fields) != width):
            raise DataFileError(
                path, f"expected 'u v' or 'u v weight' on every line, found {len(fields)} fields", number
            )
        width = len(fields)
        for column in (0, 1):
            node = _node(fields[column])
            if isinstance(node, str):
                raise DataFileError(path, f"cannot parse column {column + 1} as a node id: found {node}", number)
            if not 0 <= node < n:
                kind = "an id too large for int64" if node >= 2**63 else "an id outside it"
                raise DataFileError(
                    path,
                    f"node ids must be in [0, {n}) (the population size), found {kind} in column {column + 1}",
                    number,
                )
            (src if column == 0 else dst).append(node)
        if width == 3:
            parsed = parse_number(fields[2])
            value = math.nan if parsed is None else parsed
            if not (math.isfinite(value) and value >= 0):
                found = "a negative number" if value < 0 else token_kind(fields[2])
                raise DataFileError(path, f"weight must be finite and >= 0, found {found} in column 3", number)
            weight.append(value)
    src_ids = np.frombuffer(src, dtype=np.int64) if src else np.zeros(0, np.int64)
    dst_ids = np.frombuffer(dst, dtype=np.int64) if dst else np.zeros(0, np.int64)
    weights = (np.frombuffer(weight, dtype=np.float64) if weight else np.zeros(0)) if width == 3 else None
    if not directed and src_ids.size:  # canonical (min, max); keep the last line of each repeated edge
        u, v = np.minimum(src_ids, dst_ids), np.maximum(src_ids, dst_ids)
        _, last = np.unique((u * n + v)[::-1], return_index=True)
        keep = np.sort(len(u) - 1 - last)
        src_ids, dst_ids = u[keep], v[keep]
        weights = None if weights is None else weights[keep]
    return Edges(src_ids, dst_ids, n, weights, directed)


def _node(text: str) -> int | str:
    """A node id (an integer, written as such or as an integral float), else what was found."""
    integer = parse_integer(text)
    if integer is not None:
        return integer
    value = parse_number(text)
    if value is None:
        return token_kind(text)
    if not math.isfinite(value):
        return token_kind(text)
    if not value.is_integer():
        return "a fractional number"
    return int(value)


@functools.lru_cache(maxsize=32)
def _checked_edge_count(key: tuple[str, int, int, int, int], n: int, directed: bool) -> int:
    return read_edge_list(key[0], n, directed).n_edges


def edge_list_size(path: str | Path, n: int, directed: bool = False) -> int:
    """The number of edges of a valid edge-list file (read and checked once per file version)."""
    path = data_path(path)
    check_regular_file(path, "edge list")
    return _checked_edge_count(file_key(path), n, directed)


# ---------------------------------------------------------------------------------------------
# conversion to tensors


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
