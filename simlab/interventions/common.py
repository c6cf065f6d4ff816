"""Shared pieces of the mitigations: score normalisation per row, the greedy slate builder that
MMR, calibration and the diversity cap specialise, and slot filling for injection and the
chronological mix. Shapes: A active users, C candidates, P pool, k slate, T topics.
"""

from __future__ import annotations

import abc
from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.interventions.base import Intervention, InterventionContext
from simlab.platform.candidates import first_occurrence
from simlab.platform.slates import columns_to_items

NEG_INF = float("-inf")


class StrictSettings(pydantic.BaseModel):
    """Settings that refuse unknown keys (an intervention's ``Settings`` derives from it)."""

    model_config = pydantic.ConfigDict(extra="forbid")


def minmax_rows(scores: Tensor) -> Tensor:
    """(A, C) -> (A, C): each row's finite scores mapped linearly onto [0, 1] (min -> 0,
    max -> 1); a row whose finite scores are all equal maps them to 0; non-finite entries
    (masked candidates) become -inf. Puts model logits, popularity counts and intercepts on one
    comparable scale before they are mixed with similarities or other terms.
    """
    finite = torch.isfinite(scores)
    low = torch.where(finite, scores, float("inf")).amin(dim=1, keepdim=True)
    high = torch.where(finite, scores, NEG_INF).amax(dim=1, keepdim=True)
    span = (high - low).clamp(min=1e-12)
    out = (scores - low) / span
    out = torch.where(high > low, out, torch.zeros_like(out))
    return torch.where(finite, out, NEG_INF)


def row_range(scores: Tensor) -> Tensor:
    """(A, C) -> (A, 1) max - min of each row's finite scores (0 with fewer than two)."""
    finite = torch.isfinite(scores)
    low = torch.where(finite, scores, float("inf")).amin(dim=1, keepdim=True)
    high = torch.where(finite, scores, NEG_INF).amax(dim=1, keepdim=True)
    return torch.where(high > low, high - low, torch.zeros_like(high))


def pool_setting(default: int = 20) -> Any:
    """The ``pool`` field: how many of the top-scored candidates a re-ranker considers."""
    return pydantic.Field(
        default,
        ge=1,
        le=100_000,
        description="the inner feed's best this many distinct candidates per user are re-ranked (at least the slate size)",
    )


class PoolSettings(StrictSettings):
    """Settings every greedy slate builder has."""

    pool: int = pool_setting()


class ShareSettings(StrictSettings):
    """Settings every slot filler has."""

    share: float = pydantic.Field(
        0.2, ge=0, le=1, description="share of each slate's slots filled (m = round(share * k))"
    )


class GreedySlate(Intervention, abc.ABC):
    """A slate built position by position, vectorised over the A users (a loop over the k slate
    positions only).

    The inner feed first ranks its best ``pool`` distinct candidates per row (re-ranking the top
    of a first-stage ranking, as Carbonell & Goldstein 1998 and Steck 2018 do); position r then
    takes the pool entry of highest :meth:`gain` not yet chosen (ties: the inner feed's
    better-ranked entry). Subclasses implement :meth:`start`, :meth:`gain` and :meth:`update`.
    Relevance is the pool's scores min-max normalised per row (:func:`minmax_rows`).
    """

    settings: PoolSettings

    def setup(self, context: InterventionContext) -> None:
        self.view, self.recommender = context.view, context.recommender

    def build_slates(self, users: Tensor, candidates: Tensor, scores: Tensor, k: int) -> Tensor:
        width = min(max(self.settings.pool, k), candidates.shape[1])
        pool = self.inner.build_slates(users, candidates, scores, width)  # (A, P) columns, -1 empty
        available = pool >= 0
        items = columns_to_items(candidates, pool)
        relevance = minmax_rows(torch.where(available, torch.gather(scores, 1, pool.clamp(min=0)), NEG_INF))
        relevance = torch.where(available, relevance, torch.zeros_like(relevance))
        state = self.start(users, items, relevance, available)
        rows = torch.arange(pool.shape[0], device=pool.device)
        chosen = torch.full((pool.shape[0], k), -1, dtype=torch.long, device=pool.device)
        for position in range(k):
            gain = torch.where(available, self.gain(state, relevance, position), NEG_INF)
            best = gain.argmax(dim=1)  # the first maximum: the inner feed's order breaks ties
            ok = torch.isfinite(gain[rows, best])
            chosen[:, position] = torch.where(ok, pool[rows, best], -1)
            available[rows, best] = False
            self.update(state, items, best, ok, position)
        return chosen

    @abc.abstractmethod
    def start(self, users: Tensor, items: Tensor, relevance: Tensor, available: Tensor) -> dict[str, Any]:
        """Per-row state for the greedy pass (items (A, P), -1 = empty pool slot)."""

    @abc.abstractmethod
    def gain(self, state: dict[str, Any], relevance: Tensor, position: int) -> Tensor:
        """(A, P) value of adding each pool entry at ``position`` (masked entries are ignored)."""

    @abc.abstractmethod
    def update(self, state: dict[str, Any], items: Tensor, best: Tensor, ok: Tensor, position: int) -> None:
        """Record that pool column ``best`` (A,) was chosen where ``ok`` (A,)."""


class SlotFill(Intervention, abc.ABC):
    """Gives ``round(share * k)`` slots of every slate to candidates chosen by :meth:`keys`
    (highest key first) instead of the inner feed's; the inner feed's best ``k - m`` items keep
    their order in the other slots. The filled positions are drawn uniformly per slate from the
    intervention's own generator (so position bias does not favour either source). A row with
    fewer than m other distinct candidates keeps the inner feed's next items there instead.
    """

    settings: ShareSettings

    def setup(self, context: InterventionContext) -> None:
        self.view, self.generator = context.view, context.generator

    @abc.abstractmethod
    def keys(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        """(A, C) keys for the filled slots, higher first (eligibility is handled by the caller)."""

    def slots(self, k: int) -> int:
        return round(self.settings.share * k)

    def build_slates(self, users: Tensor, candidates: Tensor, scores: Tensor, k: int) -> Tensor:
        inner = self.inner.build_slates(users, candidates, scores, k)
        m = min(self.slots(k), k)
        if m == 0 or inner.shape[0] == 0:
            return inner
        a, device = inner.shape[0], inner.device
        kept = inner[:, : k - m]
        kept_items = columns_to_items(candidates, kept)
        eligible = first_occurrence(candidates) & torch.isfinite(scores)
        eligible &= ~(candidates[:, :, None] == kept_items[:, None, :]).any(dim=2)
        keys = torch.where(eligible, self.keys(users, candidates, scores), NEG_INF)
        top = torch.topk(keys, min(m, keys.shape[1]), dim=1)
        spare = inner[:, k - m :]  # the inner feed's next items, where too few are eligible
        fill = spare.clone()
        fill[:, : top.indices.shape[1]] = torch.where(
            torch.isfinite(top.values), top.indices, spare[:, : top.indices.shape[1]]
        )
        # the m filled positions: the first m of a uniform random permutation of 0..k-1
        order = torch.rand(a, k, generator=self.generator, device=device).argsort(dim=1)
        filled = torch.zeros(a, k, dtype=torch.bool, device=device)
        filled.scatter_(1, order[:, :m], True)
        from_fill = (torch.cumsum(filled.long(), dim=1) - 1).clamp(min=0, max=m - 1)
        from_kept = (torch.cumsum((~filled).long(), dim=1) - 1).clamp(min=0, max=max(k - m - 1, 0))
        kept_part = torch.gather(kept, 1, from_kept) if k > m else torch.full_like(inner, -1)
        return torch.where(filled, torch.gather(fill, 1, from_fill), kept_part)
