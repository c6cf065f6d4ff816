"""``diversity_cap``: at most ``cap`` items per creator (or topic) in a slate."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
import torch
from torch import Tensor

from simlab.interventions.common import GreedySlate, PoolSettings, pool_setting


class DiversityCap(GreedySlate):
    """A hard per-slate cap on one source of sameness: slot r takes the inner feed's
    best-ranked pool entry whose creator (or topic) already fills fewer than ``cap`` slots, i.e.

        S_r = S_{r-1} + argmin_{j in R - S, n_S(key_j) < cap} rank_j,

    a hard constraint of the kind feed-ranking rules state as "at most c posts from one author
    in a row of the feed" (a rule, not a published objective; compare the soft, similarity-based
    diversification of Ziegler et al. 2005 and :class:`~simlab.interventions.mmr.MMR`).
    Slots stay empty (-1) when the pool runs out of allowed items, so the cap always holds.
    ``cap`` >= k is the plain ranking.
    """

    class Settings(PoolSettings):
        cap: int = pydantic.Field(
            1,
            ge=1,
            le=1000,
            description="at most this many items of one creator (or topic) per slate; >= slate size = no cap",
        )
        by: Literal["creator", "topic"] = pydantic.Field("creator", description="what the cap counts")
        pool: int = pool_setting(30)

    settings: Settings

    def start(self, users: Tensor, items: Tensor, relevance: Tensor, available: Tensor) -> dict[str, Any]:
        key = (self.view.item_creator if self.settings.by == "creator" else self.view.item_topic)[items.clamp(min=0)]
        width = items.shape[1]
        return {
            "key": key,  # (A, P)
            "used": torch.zeros_like(key),  # (A, P) chosen items sharing each entry's key
            "rank": -torch.arange(width, device=items.device, dtype=torch.float32).expand(items.shape[0], width),
        }

    def gain(self, state: dict[str, Any], relevance: Tensor, position: int) -> Tensor:
        return torch.where(state["used"] < self.settings.cap, state["rank"], float("-inf"))

    def update(self, state: dict[str, Any], items: Tensor, best: Tensor, ok: Tensor, position: int) -> None:
        picked = torch.gather(state["key"], 1, best[:, None])
        state["used"] += ((state["key"] == picked) & ok[:, None]).long()
