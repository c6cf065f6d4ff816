"""The simulation state: users, items, graph and logs as tensors on the run's device.

Notation (docs/design.md §2): N users, M items (the catalog grows), K opinion axes, T topics,
k slate size, C candidates per active user, H history length.
Nothing here is a Python object per user: every field is an array over users or items.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import networkx as nx
import numpy as np
import torch
from torch import Tensor

from simlab.core.rows import Rows


def _tensor_fields(obj) -> dict[str, Tensor]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if isinstance(getattr(obj, f.name), Tensor)}


def _cast_floats(obj, dtype: torch.dtype) -> None:
    """Cast the floating-point tensor fields of a state dataclass to ``dtype`` (the precision)."""
    for name, value in _tensor_fields(obj).items():
        if value.is_floating_point():
            setattr(obj, name, value.to(dtype))


@dataclass
class Users:
    """Per-user arrays.

    opinion (N, K) in [-1, 1]; innate (N, K) the initial opinion s_i; susceptibility (N,) mu_i;
    anchoring (N,) lambda_i (Friedkin–Johnsen stubbornness); confidence (N,) eps_i;
    interests (N, T) rows on the simplex; activity (N,) p_i; group (N,) long;
    logged_out (N,) bool, users the platform cannot identify (None: everybody is logged in);
    taste (N, D) latent taste vectors u_i, matched against the items' attributes (None: the world
    has no latent tastes, D = 0); reliability_value (N,) w_i >= 0, how much the user values an
    item's reliability (None: every user values it alike, w_i = 1).
    """

    opinion: Tensor
    innate: Tensor
    susceptibility: Tensor
    anchoring: Tensor
    confidence: Tensor
    interests: Tensor
    activity: Tensor
    group: Tensor
    logged_out: Tensor | None = None
    taste: Tensor | None = None
    reliability_value: Tensor | None = None

    @property
    def n(self) -> int:
        return self.opinion.shape[0]

    @property
    def extremity(self) -> Tensor:
        """|x_i| as the largest absolute coordinate, shape (N,)."""
        return self.opinion.abs().amax(dim=1)

    def to_dtype(self, dtype: torch.dtype) -> None:
        _cast_floats(self, dtype)

    def state_dict(self) -> dict[str, Tensor]:
        return _tensor_fields(self)

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        # copy into our own tensors: the loop updates them in place, and a state dict must not
        # share storage with the simulation it came from
        for name, value in state.items():
            getattr(self, name).copy_(value)


@dataclass
class Catalog:
    """Items, preallocated to ``capacity`` rows; the first ``size`` rows exist.

    stance (M, K) y_j; topic (M,) tau_j; creator (M,) c_j; quality (M,) q_j; created (M,) the
    step the item appeared; impressions and engagements (M,) counts observed by the platform;
    attributes (M, D) latent attribute vectors v_j matched against the users' tastes (None: the
    world has no latent tastes); reliability (M,) r_j in (0, 1), which users may value and the
    platform does not observe (None: the world has no reliability). Use :meth:`live` for the
    live rows.
    """

    stance: Tensor
    topic: Tensor
    creator: Tensor
    quality: Tensor
    created: Tensor
    impressions: Tensor
    engagements: Tensor
    size: int
    attributes: Tensor | None = None
    reliability: Tensor | None = None

    @property
    def capacity(self) -> int:
        return self.stance.shape[0]

    @property
    def extremeness(self) -> Tensor:
        """e_j = max_k |y_jk| over live items, shape (M,)."""
        return self.stance[: self.size].abs().amax(dim=1)

    def observed(self) -> ObservedItems:
        """The observable columns (sharing storage with this catalog) for the platform's view;
        taken again after the catalog grows, since growing reallocates the columns.
        """
        return ObservedItems(self.topic, self.creator, self.created, self.impressions, self.engagements, self.size)

    def live(self, name: str) -> Tensor:
        return getattr(self, name)[: self.size]

    def append(self, **columns: Tensor) -> Tensor:
        """Append new items (each column a tensor of the same length); returns their ids."""
        n_new = next(iter(columns.values())).shape[0]
        if self.size + n_new > self.capacity:
            self._grow(max(self.capacity * 2, self.size + n_new))
        ids = torch.arange(self.size, self.size + n_new, device=self.stance.device)
        for name, value in columns.items():
            getattr(self, name)[self.size : self.size + n_new] = value
        self.size += n_new
        return ids

    def _grow(self, capacity: int) -> None:
        for name, value in _tensor_fields(self).items():
            bigger = torch.zeros((capacity, *value.shape[1:]), dtype=value.dtype, device=value.device)
            bigger[: self.size] = value[: self.size]
            setattr(self, name, bigger)

    def reserve(self, capacity: int) -> None:
        """Make room for ``capacity`` rows (never shrinks)."""
        if capacity > self.capacity:
            self._grow(capacity)

    def to_dtype(self, dtype: torch.dtype) -> None:
        _cast_floats(self, dtype)

    def state_dict(self) -> dict[str, Tensor]:
        """The live rows of every column, and the capacity (growth then happens at the same
        steps after a restore).
        """
        return {**{k: v[: self.size] for k, v in _tensor_fields(self).items()}, "capacity": torch.tensor(self.capacity)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        size = state["stance"].shape[0]
        self.reserve(max(int(state.get("capacity", size)), size))
        for name, value in state.items():
            if name != "capacity":
                getattr(self, name)[:size] = value.to(self.stance.device)
        self.size = size


@dataclass
class ObservedItems:
    """The items as the platform observes them: topic, creator, arrival step and its own
    counters (the same tensors as the :class:`Catalog`'s, so counts update in place); no stance,
    quality or attributes. Preallocated to ``capacity`` rows; the first ``size`` exist.

    topic (M,) tau_j; creator (M,) c_j; created (M,) the step the item appeared; impressions and
    engagements (M,) counts.
    """

    topic: Tensor
    creator: Tensor
    created: Tensor
    impressions: Tensor
    engagements: Tensor
    size: int

    @property
    def capacity(self) -> int:
        return self.topic.shape[0]

    def live(self, name: str) -> Tensor:
        """Column ``name`` over the live rows."""
        return getattr(self, name)[: self.size]


@dataclass
class Graph:
    """Social graph as tensors.

    adjacency: (N, N) sparse CSR, row-normalised (rows of isolated nodes are zero);
    src, dst, weight: (E,) directed edge list with the raw weights (both directions for an
    undirected graph); degree: (N,) weighted out-degree.
    """

    adjacency: Tensor
    src: Tensor
    dst: Tensor
    weight: Tensor
    degree: Tensor

    @property
    def n(self) -> int:
        return self.degree.shape[0]

    def to_dtype(self, dtype: torch.dtype) -> None:
        _cast_floats(self, dtype)

    def neighbour_mean(self, values: Tensor) -> Tensor:
        """Row-normalised A @ values; isolated nodes get their own value back. (N, ...)->(N, ...)"""
        flat = values.reshape(values.shape[0], -1).to(self.adjacency.dtype)
        mean = torch.sparse.mm(self.adjacency, flat).reshape(values.shape).to(values.dtype)
        isolated = (self.degree == 0).reshape(-1, *([1] * (values.dim() - 1)))
        return torch.where(isolated, values, mean)


@dataclass
class Engagements:
    """What happened in one step, as flat arrays over the step's impressions (I rows).

    user, item, position (I,) long; label (I,) float 0/1; probability (I,) the true p_ij;
    extremeness (I,) e_j of the shown item (computed once, read by counters and metrics).
    """

    user: Tensor
    item: Tensor
    position: Tensor
    label: Tensor
    probability: Tensor
    extremeness: Tensor

    def engaged(self) -> tuple[Tensor, Tensor]:
        """(user, item) of the engaged impressions only."""
        mask = self.label > 0
        return self.user[mask], self.item[mask]


class ImpressionLog:
    """Bounded ring buffer of logged impressions, the recommender's training data.

    Each row: user, item, position, label, step, and the observable dense features and the
    user's history bag at impression time (what a production logger would record).
    """

    def __init__(self, capacity: int, n_dense: int, history: int, device: torch.device):
        self.capacity = capacity
        self.user = torch.zeros(capacity, dtype=torch.long, device=device)
        self.item = torch.zeros(capacity, dtype=torch.long, device=device)
        self.position = torch.zeros(capacity, dtype=torch.long, device=device)
        self.label = torch.zeros(capacity, dtype=torch.float32, device=device)
        self.step = torch.zeros(capacity, dtype=torch.long, device=device)
        self.dense = torch.zeros(capacity, n_dense, dtype=torch.float32, device=device)
        self.history = torch.full((capacity, history), -1, dtype=torch.long, device=device)
        self.cursor = 0  # total rows ever written
        self._step_starts: list[tuple[int, int]] = []  # (step, cursor of its first row), oldest first
        self.columns = ("user", "item", "position", "label", "step", "dense", "history")

    def __len__(self) -> int:
        return min(self.cursor, self.capacity)

    def append(self, **rows: Tensor) -> None:
        """Append one step's rows (all columns, same length); steps must not decrease."""
        n = rows["user"].shape[0]
        if n == 0:
            return
        steps, counts = torch.unique_consecutive(rows["step"], return_counts=True)
        offset = self.cursor
        for step, count in zip(steps.tolist(), counts.tolist()):
            if not self._step_starts or self._step_starts[-1][0] != step:
                self._step_starts.append((step, offset))
            offset += count
        if n > self.capacity:  # keep only the newest rows that fit
            rows = {k: v[-self.capacity :] for k, v in rows.items()}
            self.cursor += n - self.capacity
            n = self.capacity
        start = self.cursor % self.capacity
        first = min(n, self.capacity - start)  # rows before the ring wraps around
        for name, value in rows.items():
            column = getattr(self, name)
            column[start : start + first] = value[:first]
            column[: n - first] = value[first:]
        self.cursor += n
        oldest = self.cursor - len(self)
        while len(self._step_starts) > 1 and self._step_starts[1][1] <= oldest:
            self._step_starts.pop(0)

    def rows(self, since_step: int | None = None) -> Rows:
        """Stored rows in write order: all, or only those logged at step >= since_step (found
        from the per-step start positions, so only those rows are gathered).

        Args:
            since_step: the first step whose rows are wanted (None: every stored row).

        Returns:
            The rows, oldest first.
        """
        start = self.cursor - len(self)
        if since_step is not None:
            later = [cursor for step, cursor in self._step_starts if step >= since_step]
            start = max(start, later[0]) if later else self.cursor
        order = (start + torch.arange(self.cursor - start, device=self.user.device)) % self.capacity
        return Rows(**{name: getattr(self, name)[order] for name in self.columns})

    def state_dict(self) -> dict[str, Tensor]:
        """Every column up to its filled rows (an early checkpoint does not carry the whole
        preallocated buffer), the cursor and the per-step start positions.
        """
        filled = len(self)
        out = {name: getattr(self, name)[:filled] for name in self.columns}
        out["cursor"] = torch.tensor(self.cursor)
        out["step_starts"] = torch.tensor(self._step_starts, dtype=torch.long).reshape(-1, 2)
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for name in self.columns:
            saved = state[name]
            getattr(self, name)[: saved.shape[0]] = saved.to(self.user.device)
        self.cursor = int(state["cursor"])
        self._step_starts = [(int(a), int(b)) for a, b in state["step_starts"].tolist()]


@dataclass
class Edges:
    """A graph as arrays: src, dst (E,) int64 node ids < n; weight (E,) float64 or None (all 1).

    ``directed=False`` means each (src, dst) pair is one undirected edge listed once.
    """

    src: np.ndarray
    dst: np.ndarray
    n: int
    weight: np.ndarray | None = None
    directed: bool = False

    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    def to_networkx(self) -> nx.Graph:
        graph = nx.DiGraph() if self.directed else nx.Graph()
        graph.add_nodes_from(range(self.n))
        weight = np.ones(self.n_edges) if self.weight is None else self.weight
        graph.add_weighted_edges_from(zip(self.src.tolist(), self.dst.tolist(), weight.tolist()))
        return graph
