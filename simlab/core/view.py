"""What the platform observes: :class:`PlatformView` (ids, observable item features, outcomes
and the graph) and the dense features built from it. Recommenders, candidate sources and
interventions read only this; true opinions, stances, appetites and interests are not in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from simlab.core.state import Graph, ObservedItems

N_USER_DENSE = 3
N_ITEM_DENSE = 5
N_DENSE = N_USER_DENSE + N_ITEM_DENSE


@dataclass
class PlatformView:
    """What the platform observes: ids, observable item features, outcomes and the graph.

    Recommenders and candidate sources read only this. True opinions, stances, appetites,
    interests and tastes are not reachable from it: its fields are typed so that they hold none
    (``items`` is :class:`ObservedItems`, not the catalog; a test walks every attribute). The one
    exception is declared: ``oracle_probability`` is set only for a recommender that declares
    itself ``privileged`` (the ``oracle`` baseline, which ranks by the true engagement
    probability by definition); for every other feed it is None.

    Identity: the platform knows users by id. Logged-out users (``logged_out``, Spinelli &
    Crovella 2020) have no account: the loop hands the recommender, the candidate sources and
    the interventions :meth:`platform_users` ids, under which every logged-out user is one
    shared anonymous id (the last, ``n_users - 1``), whose history stays empty and counters
    zero; the impression log records that id and that empty bag. The per-user arrays below are
    the platform's own records, so a logged-out user's rows are never filled. :meth:`forget`
    is the one declared way to wipe an account's records (the ``history_reset`` intervention).
    """

    n_users: int  # ids the platform knows: N users, plus the anonymous id when some are logged out
    items: ObservedItems  # the observable item columns (the loop refreshes it as the catalog grows)
    user_impressions: Tensor  # (n_users,)
    user_engagements: Tensor  # (n_users,)
    history: Tensor  # (n_users, H) last H engaged item ids, newest last, -1 = empty
    graph: Graph
    device: torch.device
    step: int = 0
    oracle_probability: Callable[[Tensor, Tensor], Tensor] | None = None
    logged_out: Tensor | None = None  # (N,) bool, users without an account (None: none)
    forgotten_at: Tensor | None = None  # (n_users,) long, step of the last forget() of an id, -1 never

    @property
    def anonymous_id(self) -> int | None:
        """The id every logged-out user is seen under (None when everybody is logged in)."""
        return None if self.logged_out is None else self.n_users - 1

    def platform_users(self, users: Tensor) -> Tensor:
        """(B,) user ids -> (B,) the ids the platform knows them by: a logged-out user's becomes
        the anonymous id. Returns ``users`` itself when everybody is logged in.
        """
        if self.logged_out is None:
            return users
        return torch.where(self.logged_out[users], self.n_users - 1, users)

    def forget(self, users: Tensor) -> None:
        """Wipe the platform's records of ``users`` (B,) ids, as when users clear their watch
        history: the history bag is emptied, the counters are zeroed, and ``forgotten_at``
        stamps the step. The recommender's learned parameters and the impression log (its
        training window) are left as they are: they forget only as the model retrains.
        """
        self.history[users] = -1
        self.user_impressions[users] = 0
        self.user_engagements[users] = 0
        if self.forgotten_at is None:
            self.forgotten_at = torch.full((self.n_users,), -1, dtype=torch.long, device=self.device)
        self.forgotten_at[users] = self.step

    # observable item columns (live rows only)
    @property
    def n_items(self) -> int:
        return self.items.size

    @property
    def item_topic(self) -> Tensor:
        return self.items.live("topic")

    @property
    def item_creator(self) -> Tensor:
        return self.items.live("creator")

    @property
    def item_created(self) -> Tensor:
        return self.items.live("created")

    @property
    def item_impressions(self) -> Tensor:
        return self.items.live("impressions")

    @property
    def item_engagements(self) -> Tensor:
        return self.items.live("engagements")

    def user_dense(self, users: Tensor) -> Tensor:
        """(A,) -> (A, 3): log1p impressions, log1p engagements, smoothed CTR."""
        imp = self.user_impressions[users].float()
        eng = self.user_engagements[users].float()
        return torch.stack([imp.log1p(), eng.log1p(), (eng + 1) / (imp + 2)], dim=1)

    def item_dense(self, items: Tensor) -> Tensor:
        """(B,) -> (B, 5): log1p impressions, log1p engagements, smoothed CTR, log1p age, recency."""
        imp = self.items.impressions[items].float()
        eng = self.items.engagements[items].float()
        age = (self.step - self.items.created[items]).clamp(min=0).float()
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
