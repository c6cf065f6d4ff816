"""One small Protocol per pluggable part (DESIGN.md §4).

Components receive state and randomness explicitly; none holds global state. Shapes:
N users, M items, K opinion axes, T topics, A active users this step, C candidates, k slate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import networkx as nx
import torch
from torch import Tensor

from simlab.state import Catalog, Engagements, Graph, ImpressionLog, Users

if TYPE_CHECKING:
    from collections.abc import Callable

    from simlab.network import Edges


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


class Population(Protocol):
    def sample(self, topics: int, generator: torch.Generator, device: torch.device) -> Users:
        """Draw the N users (N and K come from the component's settings ``size`` and ``axes``)."""
        ...


class Network(Protocol):
    def build(self, users: Users, seed: int) -> nx.Graph | Edges:
        """A networkx graph or an edge array (simlab.network.Edges, for graphs too big for
        networkx) on nodes 0..N-1; may use opinions for homophily."""
        ...


class CatalogModel(Protocol):
    def initial(self, axes: int, generator: torch.Generator, device: torch.device) -> Catalog:
        """The initial items (size and topics T come from the component's settings)."""
        ...

    def new_items(
        self, catalog: Catalog, engaged_item: Tensor, step: int, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """Columns of the items that arrive this step (stance, topic, creator, quality, created);
        ``engaged_item`` (E,) lets creators react to what earned engagement."""
        ...


class Behavior(Protocol):
    def probability(self, users: Users, user: Tensor, catalog: Catalog, item: Tensor, position: Tensor) -> Tensor:
        """True engagement probability p_ij for (I,) impressions."""
        ...

    def drift_interests(self, users: Users, engaged_user: Tensor, engaged_item: Tensor, catalog: Catalog) -> None: ...


class Dynamics(Protocol):
    def update(
        self,
        users: Users,
        engaged_user: Tensor,
        engaged_item: Tensor,
        catalog: Catalog,
        graph: Graph,
        generator: torch.Generator,
    ) -> Tensor:
        """Return the next opinions (N, K) given this step's engagements (E,) and the graph."""
        ...


class CandidateSource(Protocol):
    def sample(self, view: PlatformView, users: Tensor, n: int, generator: torch.Generator, recommender: Any) -> Tensor:
        """(A,) active users -> (A, n) item ids drawn by this source."""
        ...


class Policy(Protocol):
    def select(self, scores: Tensor, k: int, generator: torch.Generator) -> Tensor:
        """(A, C) scores -> (A, k) column indices, slate position 0 first."""
        ...


class Recommender(Protocol):
    """A ranking model. A class attribute ``scores_are_logits = True`` declares that ``score``
    returns engagement logits (then predictions are taken from scores, saving a forward pass)."""

    def setup(self, view: PlatformView, generator: torch.Generator) -> None: ...

    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        """(A,), (A, C) -> (A, C) ranking scores (higher first)."""
        ...

    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) predicted engagement probability."""
        ...

    def train(self, log: ImpressionLog, step: int, extra: dict[str, Tensor] | None = None) -> dict[str, float]:
        """Retrain on the log (plus ``extra`` synthetic rows, e.g. antidote data, with the log's
        columns); returns diagnostics such as the loss."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Intervention(Protocol):
    """A mitigation wrapped around the loop (re-ranking, extra training data, ...)."""

    def setup(self, simulation: Any) -> None: ...

    def rerank(self, simulation: Any, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        """(A,), (A, C), (A, C) -> adjusted (A, C) scores."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Metric(Protocol):
    def compute(self, ctx: Any) -> Tensor | float:
        """A scalar from the step context (see simlab.engine.StepContext)."""
        ...


__all__ = [
    "N_DENSE",
    "N_ITEM_DENSE",
    "N_USER_DENSE",
    "Behavior",
    "CandidateSource",
    "Catalog",
    "CatalogModel",
    "Dynamics",
    "Engagements",
    "Graph",
    "ImpressionLog",
    "Intervention",
    "Metric",
    "Network",
    "PlatformView",
    "Policy",
    "Population",
    "Recommender",
    "Users",
]
