"""People recommenders: the platform's "who to follow" suggestions (the ``people`` block).

Link recommendation closes a second loop: the graph the users learn from is rewired by whom the
platform suggests (Santos, Lelkes & Levin, PNAS 2021; Cinus et al., ICWSM 2022). A people
recommender is the platform's part only: it reads the graph, the platform's engagement records
and ids (never opinions) and suggests one user to follow to each user it is asked about. Whether
a user accepts, and whom a user unfollows, is the users' part (:mod:`simlab.society.rewiring`),
set in the same block.

Types: ``none`` (suggests nothing: the default, the graph stays fixed unless users unfollow),
``random`` (anyone not yet followed), ``common_neighbours`` and ``adamic_adar`` (friends of
friends, Liben-Nowell & Kleinberg 2007), ``engagement_similarity`` (users who engaged with the
same items, by the platform's last-H history).
"""

from __future__ import annotations

import abc

import pydantic
import torch
from torch import Tensor

from simlab.core.state import Graph
from simlab.core.view import PlatformView


class PeopleSettings(pydantic.BaseModel):
    """Settings of the ``people`` block: how often the graph rewires and how users answer.

    ``share`` is the platform's (whom it suggests to); ``accept`` and ``unfollow`` are the users'
    (:mod:`simlab.society.rewiring`).
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    every: int = pydantic.Field(1, ge=1, description="rewire every this many steps (after the opinion update)")
    share: float = pydantic.Field(
        0.1, ge=0, le=1, description="chance that a user gets one link suggestion at a rewiring step"
    )
    accept: float = pydantic.Field(0.5, ge=0, le=1, description="chance that a user follows a suggested user")
    unfollow: float = pydantic.Field(
        0.0,
        ge=0,
        le=1,
        description="chance, per rewiring step, that a user drops a link to a neighbour beyond its confidence "
        "bound eps_i (0 = users never unfollow)",
    )
    reciprocal: bool = pydantic.Field(
        True, description="links are friendships: following and unfollowing act on both directions"
    )


class NoPeopleRecommender:
    """``none``: the platform suggests no links (users may still unfollow, if ``unfollow`` > 0)."""

    Settings = PeopleSettings
    suggests = False

    def __init__(self, settings: PeopleSettings):
        self.settings = settings

    def recommend(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """No suggestion for anyone: (S,) of -1."""
        return torch.full_like(users, -1)


class _ScoredPeople(NoPeopleRecommender, abc.ABC):
    """Suggests to each user the not-yet-followed user of highest score (ties broken at random);
    a user whose every candidate scores 0 gets no suggestion.
    """

    suggests = True

    @abc.abstractmethod
    def scores(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) users -> (S, N) scores of every user as a suggestion (0: not a candidate)."""

    def recommend(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) users -> (S,) the best-scoring user each does not follow yet, -1 where none scores."""
        if users.numel() == 0:
            return users.clone()
        score = self.scores(users, graph, view, generator).double()
        followed = follow_rows(users, graph)
        followed[torch.arange(users.numel(), device=users.device), users] = True  # not oneself
        score = torch.where(followed, 0.0, score)
        best = score.max(dim=1, keepdim=True).values
        # ties at the top broken uniformly at random, with the recommender's own stream
        tie_break = torch.rand(score.shape, generator=generator, device=score.device, dtype=score.dtype)
        pick = torch.where((score >= best * (1 - 1e-9)) & (score > 0), tie_break, -1.0).argmax(dim=1)
        return torch.where(best.squeeze(1) > 0, pick, -1)


def follow_rows(users: Tensor, graph: Graph) -> Tensor:
    """(S,) users -> (S, N) bool, True where the user follows (has an edge to) that node."""
    rows = torch.zeros(users.numel(), graph.n, dtype=torch.bool, device=users.device)
    position = torch.full((graph.n,), -1, dtype=torch.long, device=users.device)
    position[users] = torch.arange(users.numel(), device=users.device)
    keep = position[graph.src] >= 0
    rows[position[graph.src[keep]], graph.dst[keep]] = True
    return rows


def _path_scores(users: Tensor, graph: Graph, via: Tensor) -> Tensor:
    """(S, N) sum over middle nodes w of via_w for the paths u -> w -> v (u in ``users``)."""
    first = follow_rows(users, graph).double() * via  # (S, N): u -> w, weighted by w
    second = torch.sparse_coo_tensor(
        torch.stack([graph.dst, graph.src]), torch.ones_like(graph.src, dtype=torch.float64), (graph.n, graph.n)
    )  # the transposed 0/1 adjacency: second[v, w] = 1 where w -> v
    return torch.sparse.mm(second, first.t()).t()


class CommonNeighbours(_ScoredPeople):
    """``common_neighbours``: the user reached by the most paths u -> w -> v (friends of friends)."""

    def scores(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) users -> (S, N) number of common neighbours."""
        return _path_scores(users, graph, torch.ones(graph.n, dtype=torch.float64, device=users.device))


class AdamicAdar(_ScoredPeople):
    """``adamic_adar``: friends of friends, a common neighbour w counting 1 / log(deg w)
    (Adamic & Adar 2003), so that hubs introduce less.
    """

    def scores(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) users -> (S, N) Adamic-Adar index."""
        degree = torch.bincount(graph.src, minlength=graph.n).double()
        return _path_scores(users, graph, 1.0 / torch.log(degree.clamp(min=2)))


class EngagementSimilarity(_ScoredPeople):
    """``engagement_similarity``: the user whose last-H engaged items (the platform's history)
    share the most items with the user's own.
    """

    def scores(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) users -> (S, N) number of items both engaged with (within their histories)."""
        history = view.history[: graph.n]  # graph nodes are the accounts; the anonymous id is not one
        n_items = int(history.max().item()) + 1 if history.numel() else 0
        if n_items <= 0:
            return torch.zeros(users.numel(), graph.n, dtype=torch.float64, device=users.device)
        owner = torch.arange(graph.n, device=users.device)[:, None].expand_as(history)
        kept = history >= 0
        pairs = torch.unique(owner[kept] * n_items + history[kept])  # an item engaged twice counts once
        bag = torch.sparse_coo_tensor(
            torch.stack([pairs // n_items, pairs % n_items]),
            torch.ones(pairs.numel(), dtype=torch.float64, device=users.device),
            (graph.n, n_items),
        )
        mine = torch.zeros(users.numel(), n_items, dtype=torch.float64, device=users.device)
        selected = torch.isin(pairs // n_items, users)
        position = torch.full((graph.n,), -1, dtype=torch.long, device=users.device)
        position[users] = torch.arange(users.numel(), device=users.device)
        mine[position[pairs[selected] // n_items], pairs[selected] % n_items] = 1.0
        return torch.sparse.mm(bag, mine.t()).t()


class RandomPeople(_ScoredPeople):
    """``random``: a user drawn uniformly from those not yet followed."""

    def scores(self, users: Tensor, graph: Graph, view: PlatformView, generator: torch.Generator) -> Tensor:
        """(S,) users -> (S, N) all ones (the random tie-break then draws uniformly)."""
        return torch.ones(users.numel(), graph.n, dtype=torch.float64, device=users.device)
