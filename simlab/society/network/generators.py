"""Social graph generators: each NETWORKS type that draws or builds its graph (docs/design.md §2
"Social graph").

Each type has a pydantic ``Settings`` and ``build(users, seed)`` returning either a networkx graph
on nodes 0..N-1 or, for generators that must scale to 1e5–1e6 users, an :class:`Edges` array
bundle (networkx spends ~1 kB per edge; 1e7 edges would not fit). Random graphs use
``numpy.random.default_rng(seed)``; the same seed gives the same graph. The edge-list file type is
:class:`simlab.society.network.files.EdgeList`.
"""

from __future__ import annotations

import abc

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simlab.core.state import Edges, Users

# Below this many candidate pairs, Bernoulli-sample every pair (exact and cheap); above it,
# sample the edge count and then distinct random pairs (memory O(E) instead of O(N^2)).
_ENUMERATE_LIMIT = 2_000_000


# ---------------------------------------------------------------------------------------------
# vectorised random pair sampling


def unrank_pairs(rank: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Map ranks r in [0, size*(size-1)/2) to pairs u < v (row-major over the strict upper triangle).

    Args:
        rank: (E,) int64 ranks.
        size: the number of nodes.

    Returns:
        (u, v), each (E,) int64, with u < v.
    """
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
        return unrank_pairs(ranks, size_a)
    return ranks // size_b, ranks % size_b


# ---------------------------------------------------------------------------------------------
# network types


class NetworkSettings(BaseModel):
    """The settings every network type shares: none, and no unknown keys."""

    model_config = ConfigDict(extra="forbid")


class NetworkBase(abc.ABC):
    """The base of the network types: holds the settings and builds the graph.

    Args:
        settings: the type's validated ``Settings`` (its defaults when None).
    """

    Settings = NetworkSettings

    def __init__(self, settings: BaseModel | None = None):
        self.settings = settings if settings is not None else self.Settings()

    @abc.abstractmethod
    def build(self, users: Users, seed: int) -> nx.Graph | Edges:
        """The graph on nodes 0..N-1 (a networkx graph, or Edges when too big for networkx)."""


class ErdosRenyi(NetworkBase):
    """Erdős–Rényi G(N, p) with p = mean_degree / (N - 1), vectorised (scales to 1e6 nodes)."""

    class Settings(NetworkSettings):
        mean_degree: float = Field(10.0, ge=0.0, description="expected degree d; p = d / (N - 1)")

    settings: Settings

    def build(self, users: Users, seed: int) -> Edges:
        n = users.n
        p = self.settings.mean_degree / max(n - 1, 1)
        u, v = gnp_pairs(np.random.default_rng(seed), n, p)
        return Edges(u, v, n)


class BarabasiAlbert(NetworkBase):
    """Barabási–Albert preferential attachment, each new node attaching m edges (networkx)."""

    class Settings(NetworkSettings):
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


class WattsStrogatz(NetworkBase):
    """Watts–Strogatz small world: ring lattice of degree k, each edge rewired with probability p.

    Vectorised: rewiring moves the far end to a uniform random node; the few rewired edges
    that become self-loops or duplicates are redrawn (up to 20 rounds) and then dropped, so the
    edge count can fall short of N*k/2 by O(k^2) edges. networkx instead redraws until valid.
    """

    class Settings(NetworkSettings):
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


class StochasticBlockModel(NetworkBase):
    """Stochastic block model with opinion homophily (Holland, Laskey & Leinhardt 1983).

    Users are sorted by opinion axis 0 and cut into ``blocks`` equal-size blocks (block 0 the
    most negative). Pairs in the same block link with p_in, others with p_out. Give p_in and
    p_out directly, or (default) ``mean_degree`` d and ``homophily`` h in [0, 1], the expected
    share of a node's edges inside its block: p_in*(N/B - 1) = h*d and p_out*(N - N/B) = (1-h)*d.
    h = 1/B is no homophily (Erdős–Rényi).
    """

    class Settings(NetworkSettings):
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


class KarateClub(NetworkBase):
    """Zachary's karate club (34 members); ``weighted`` uses the interaction counts as weights."""

    class Settings(NetworkSettings):
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


class EmptyNetwork(NetworkBase):
    """No social ties: every user is isolated."""

    def build(self, users: Users, seed: int) -> Edges:
        empty = np.zeros(0, dtype=np.int64)
        return Edges(empty, empty, users.n)
