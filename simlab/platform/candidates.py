"""Candidate generation: C candidates per active user, mixed from several sources.

Sources (each (A,) users -> (A, n) item ids), as in two-stage production recommenders
(Covington, Adams & Sargin 2016): ``recent`` (newest items), ``popular`` (the most engaged
items), ``random``, ``social`` (an item a random neighbour recently engaged with)
and ``history`` (items similar to one the user engaged with: nearest by the recommender's
item embeddings when it has them, else same topic). A row may repeat an item; the engine drops
repeats when it builds the slate, so no slate shows an item twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from simlab.config import CandidateSettings
from simlab.core.view import PlatformView

if TYPE_CHECKING:
    from simlab.core.protocols import Recommender


def _uniform(low: Tensor | int, high: Tensor | int, shape: tuple[int, ...], g: torch.Generator, device) -> Tensor:
    """Integers uniform in [low, high) elementwise (low/high broadcastable tensors or ints;
    an empty range yields low).
    """
    if isinstance(low, int) and isinstance(high, int):
        return torch.randint(low, max(high, low + 1), shape, generator=g, device=device)
    span = torch.as_tensor(high - low).clamp(min=1)
    u = torch.rand(shape, generator=g, device=device)
    # u < 1, but u * span can round up to span in float32: keep the draw inside the range
    return low + torch.minimum((u * span).long(), span - 1)


def sample_random(view: PlatformView, users: Tensor, n: int, g: torch.Generator, **_: Any) -> Tensor:
    """(A, n) item ids drawn uniformly from the whole catalog for each of the (A,) ``users``."""
    return _uniform(0, view.n_items, (users.shape[0], n), g, view.device)


def sample_recent(view: PlatformView, users: Tensor, n: int, g: torch.Generator, window: int = 200, **_: Any) -> Tensor:
    """(A, n) item ids drawn uniformly from the newest ``window`` items."""
    # items are appended in creation order, so the newest are the highest ids
    return _uniform(max(view.n_items - window, 0), view.n_items, (users.shape[0], n), g, view.device)


def sample_popular(
    view: PlatformView, users: Tensor, n: int, g: torch.Generator, popular_pool: int = 200, **_: Any
) -> Tensor:
    """Uniform draws from the ``popular_pool`` most engaged items (a global trending list)."""
    pool = torch.topk(view.item_engagements, min(popular_pool, view.n_items), sorted=False).indices
    return pool[_uniform(0, pool.numel(), (users.shape[0], n), g, view.device)]


def _history_pick(view: PlatformView, owners: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """One random history slot of each entry of ``owners`` (user ids, any shape): the items
    found there (same shape) and whether the slot was filled.
    """
    slot = _uniform(0, view.history.shape[1], tuple(owners.shape), g, view.device)
    picked = view.history[owners, slot]  # gathers only the picked entries
    return picked, picked >= 0


def sample_social(view: PlatformView, users: Tensor, n: int, g: torch.Generator, **_: Any) -> Tensor:
    """(A, n) items the users' graph neighbours engaged with (random items where there are none)."""
    graph = view.graph
    fallback = sample_random(view, users, n, g)
    if graph.src.numel() == 0:
        return fallback
    crow = graph.adjacency.crow_indices()
    col = graph.adjacency.col_indices()
    # the anonymous id of logged-out users (past the graph's nodes) has no friends to draw from
    member = users < graph.n
    node = torch.where(member, users, 0)
    start, end = crow[node], crow[node + 1]
    has = ((end > start) & member)[:, None]
    edge = _uniform(start[:, None], end[:, None], (users.shape[0], n), g, view.device).clamp(
        max=max(col.numel() - 1, 0)
    )
    picked, valid = _history_pick(view, col[edge], g)  # an item a random neighbour engaged with
    valid &= has
    return torch.where(valid, picked, fallback)


def sample_history(
    view: PlatformView,
    users: Tensor,
    n: int,
    g: torch.Generator,
    recommender: Recommender | None = None,
    pool: int = 32,
    **_: Any,
) -> Tensor:
    """(A, n) items similar to each user's engagement history (nearest by the recommender's item embeddings)."""
    fallback = sample_random(view, users, n, g)
    anchor, valid = _history_pick(view, users[:, None].expand(-1, n), g)
    anchor = anchor.clamp(min=0)
    table = None if recommender is None else recommender.item_embeddings()
    if table is not None:
        # nearest item to the anchor, by embedding dot product, in a shared random pool: one
        # (unique anchors x pool) product per step instead of one per (user, slot)
        pool_items = _uniform(0, view.n_items, (min(pool * 8, view.n_items),), g, view.device)
        anchors, inverse = torch.unique(anchor, return_inverse=True)
        sims = table[anchors] @ table[pool_items].T
        sims[anchors[:, None] == pool_items[None, :]] = float("-inf")
        similar = pool_items[sims.argmax(dim=1)][inverse]
    else:
        # same topic: items sorted by topic, then a uniform draw inside the anchor's topic block
        topic = view.item_topic
        order = torch.argsort(topic, stable=True)
        counts = torch.bincount(topic, minlength=int(topic.max()) + 1)
        starts = torch.cumsum(counts, 0) - counts
        t = topic[anchor]
        similar = order[_uniform(starts[t], starts[t] + counts[t], anchor.shape, g, view.device)]
    return torch.where(valid, similar, fallback)


SAMPLERS = {
    "recent": sample_recent,
    "popular": sample_popular,
    "random": sample_random,
    "social": sample_social,
    "history": sample_history,
}


def split_sizes(settings: CandidateSettings) -> dict[str, int]:
    """How many of the C candidates each source draws (largest-remainder rounding)."""
    weights = {name: getattr(settings, name) for name in SAMPLERS}
    total = sum(weights.values())
    exact = {k: settings.size * w / total for k, w in weights.items()}
    sizes = {k: int(v) for k, v in exact.items()}
    leftover = settings.size - sum(sizes.values())
    for k in sorted(exact, key=lambda k: exact[k] - sizes[k], reverse=True)[:leftover]:
        sizes[k] += 1
    return {k: v for k, v in sizes.items() if v > 0}


def generate(
    view: PlatformView,
    users: Tensor,
    settings: CandidateSettings,
    g: torch.Generator,
    recommender: Recommender | None = None,
) -> Tensor:
    """(A,) users -> candidates (A, C) item ids (a row may repeat an item; the engine drops
    repeats from the slate).
    """
    parts = [
        SAMPLERS[name](
            view,
            users,
            n,
            g,
            recommender=recommender,
            window=settings.recent_window,
            popular_pool=settings.popular_pool,
        )
        for name, n in split_sizes(settings).items()
    ]
    return torch.cat(parts, dim=1)


def first_occurrence(rows: Tensor) -> Tensor:
    """(A, C) -> (A, C) bool: True where the value is the first of its kind in the row.

    Sorting the keys value * C + column orders each row by value, then by column; in a run of
    equal values only the first (leftmost) is new. On CPU numpy's plain sort of those keys is
    several times faster than torch's argsort.
    """
    a, c = rows.shape
    if a == 0 or c == 0:
        return torch.ones_like(rows, dtype=torch.bool)
    column = torch.arange(c, device=rows.device)
    keys = rows.clamp(min=-1) + 1  # values >= 0 (ids or -1 for empty)
    keys = keys * c + column
    if rows.device.type == "cpu":
        ordered = torch.from_numpy(np.sort(keys.numpy(), axis=1))
    else:
        ordered = torch.sort(keys, dim=1).values
    value, position = ordered // c, ordered % c
    repeat = torch.zeros_like(rows, dtype=torch.bool)
    repeat[:, 1:] = value[:, 1:] == value[:, :-1]
    first = torch.ones_like(rows, dtype=torch.bool)
    return first.scatter_(1, position, ~repeat)
