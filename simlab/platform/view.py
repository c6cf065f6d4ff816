"""What the platform observes: :class:`PlatformView` (ids, observable item features, outcomes
and the graph) and the dense features built from it. Recommenders, candidate sources and
interventions read only this; true opinions, stances, appetites and interests are not in it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from simlab.loop.state import Catalog, Graph

N_USER_DENSE = 3
N_ITEM_DENSE = 5
N_DENSE = N_USER_DENSE + N_ITEM_DENSE


@dataclass
class PlatformView:
    """What the platform observes: ids, observable item features, outcomes and the graph.

    Recommenders and candidate sources read only this. True opinions, stances, appetites and
    interests are not reachable from it; ``oracle_probability`` exists only for the ``oracle``
    baseline, which ranks by the true engagement probability by definition.
    """

    n_users: int
    catalog: Catalog
    user_impressions: Tensor  # (N,)
    user_engagements: Tensor  # (N,)
    history: Tensor  # (N, H) last H engaged item ids, newest last, -1 = empty
    graph: Graph
    device: torch.device
    step: int = 0
    oracle_probability: Callable[[Tensor, Tensor], Tensor] | None = None

    # observable item columns (live rows only)
    @property
    def n_items(self) -> int:
        return self.catalog.size

    @property
    def item_topic(self) -> Tensor:
        return self.catalog.live("topic")

    @property
    def item_creator(self) -> Tensor:
        return self.catalog.live("creator")

    @property
    def item_created(self) -> Tensor:
        return self.catalog.live("created")

    @property
    def item_impressions(self) -> Tensor:
        return self.catalog.live("impressions")

    @property
    def item_engagements(self) -> Tensor:
        return self.catalog.live("engagements")

    def user_dense(self, users: Tensor) -> Tensor:
        """(A,) -> (A, 3): log1p impressions, log1p engagements, smoothed CTR."""
        imp = self.user_impressions[users].float()
        eng = self.user_engagements[users].float()
        return torch.stack([imp.log1p(), eng.log1p(), (eng + 1) / (imp + 2)], dim=1)

    def item_dense(self, items: Tensor) -> Tensor:
        """(B,) -> (B, 5): log1p impressions, log1p engagements, smoothed CTR, log1p age, recency."""
        imp = self.catalog.impressions[items].float()
        eng = self.catalog.engagements[items].float()
        age = (self.step - self.catalog.created[items]).clamp(min=0).float()
        return torch.stack([imp.log1p(), eng.log1p(), (eng + 1) / (imp + 2), age.log1p(), torch.exp(-age / 10)], dim=1)

    def dense(self, users: Tensor, items: Tensor) -> Tensor:
        """Per-impression dense features (B, 8) = cat(user_dense, item_dense).

        With more rows than users (items), the features are computed once per user (item) and
        gathered: the same numbers with fewer elementwise passes.
        """
        user_part = (
            self.user_dense(torch.arange(self.n_users, device=users.device))[users]
            if users.numel() > self.n_users
            else self.user_dense(users)
        )
        item_part = (
            self.item_dense(torch.arange(self.n_items, device=items.device))[items]
            if items.numel() > self.n_items
            else self.item_dense(items)
        )
        return torch.cat([user_part, item_part], dim=1)
