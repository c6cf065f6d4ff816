"""The users' side of link rewiring: accepting suggested links and unfollowing discordant ones.

After the opinion update (every ``people.every`` steps) the platform's people recommender
(:mod:`simlab.platform.people`) suggests a user to follow to a random ``share`` of users; each
follows the suggestion with probability ``accept``. Independently, each link from a user to a
neighbour whose opinion lies beyond the user's confidence bound eps_i (``||x_j - x_i|| > eps_i``)
is dropped with probability ``unfollow`` (Santos, Lelkes & Levin, PNAS 2021: unfollowing
discordant neighbours; Cinus et al., ICWSM 2022). The users' choices read opinions; the
platform's suggestions never do. The social influence of the next step reads the rewired graph.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from simlab.core.protocols import PeopleRecommender
from simlab.core.state import Edges, Graph, Users
from simlab.core.view import PlatformView
from simlab.platform.people import PeopleSettings
from simlab.society.network.convert import to_graph


def rewires(people: PeopleRecommender, settings: PeopleSettings) -> bool:
    """Whether the block can change the graph at all (``none`` without unfollowing cannot)."""
    return _suggests(people, settings) or settings.unfollow > 0


def _suggests(people: PeopleRecommender, settings: PeopleSettings) -> bool:
    return bool(getattr(people, "suggests", True)) and settings.share > 0 and settings.accept > 0


def rewire_step(
    graph: Graph,
    users: Users,
    view: PlatformView,
    people: PeopleRecommender,
    settings: PeopleSettings,
    platform_generator: torch.Generator,
    user_generator: torch.Generator,
) -> int:
    """One rewiring step: users unfollow discordant neighbours, then answer link suggestions.

    The graph is rebuilt in place (the same :class:`Graph` object, so the platform's view and
    the dynamics read the new one).

    Args:
        graph: the social graph; edge u -> v means u follows (listens to) v.
        users: the society (opinions ``(N, K)`` and confidence bounds ``(N,)``).
        view: what the platform sees, passed on to the people recommender.
        people: the platform's link recommender.
        settings: the ``people`` block.
        platform_generator: the people recommender's stream (whom it asks, its tie-breaks).
        user_generator: the users' stream (accepting, unfollowing).

    Returns:
        The number of links changed (added plus removed; a reciprocal pair counts once).
    """
    device = graph.src.device
    src, dst, weight = graph.src, graph.dst, graph.weight
    # 1. the users' part: unfollow neighbours beyond the confidence bound
    removed = 0
    if settings.unfollow > 0 and src.numel():
        x = users.opinion
        discordant = (x[dst] - x[src]).norm(dim=1) > users.confidence[src]
        drop = discordant & (torch.rand(src.shape, generator=user_generator, device=device) < settings.unfollow)
        if settings.reciprocal:  # either friend may end a friendship: both directions go
            low, high = torch.minimum(src[drop], dst[drop]), torch.maximum(src[drop], dst[drop])
            ended = torch.unique(low * graph.n + high)
            drop = torch.isin(torch.minimum(src, dst) * graph.n + torch.maximum(src, dst), ended)
            removed = int(ended.numel())
        else:
            removed = int(drop.sum())
        src, dst, weight = src[~drop], dst[~drop], weight[~drop]
    # 2. the platform's part: whom to suggest to, and whom it suggests
    added_src = torch.zeros(0, dtype=torch.long, device=device)
    added_dst = added_src
    if _suggests(people, settings):
        asked = torch.nonzero(torch.rand(graph.n, generator=platform_generator, device=device) < settings.share)
        asked = asked.squeeze(1)
        current = dataclasses.replace(graph, src=src, dst=dst, weight=weight)
        suggested = people.recommend(asked, current, view, platform_generator)
        # 3. the users' part again: follow the suggestion or not
        follows = (suggested >= 0) & (
            torch.rand(asked.shape, generator=user_generator, device=device) < settings.accept
        )
        added_src, added_dst = asked[follows], suggested[follows]
    added = _new_links(src, dst, added_src, added_dst, graph.n, settings.reciprocal)
    if removed == 0 and added[0].numel() == 0:
        return 0
    new_src = torch.cat([src, added[0]])
    new_dst = torch.cat([dst, added[1]])
    new_weight = torch.cat([weight, torch.ones(added[0].numel(), dtype=weight.dtype, device=device)])
    replace_edges(graph, new_src, new_dst, new_weight)
    return removed + added[2]


def _new_links(
    src: Tensor, dst: Tensor, add_src: Tensor, add_dst: Tensor, n: int, reciprocal: bool
) -> tuple[Tensor, Tensor, int]:
    """The directed edges to add (E',) x 2 (none already present, none repeated) and the links
    they make (a reciprocal pair counts once).
    """
    if reciprocal:
        add_src, add_dst = torch.cat([add_src, add_dst]), torch.cat([add_dst, add_src])
    key = torch.unique(add_src * n + add_dst)
    key = key[~torch.isin(key, src * n + dst)]
    new_src, new_dst = key // n, key % n
    links = int((new_src < new_dst).sum()) if reciprocal else int(key.numel())
    return new_src, new_dst, links


def replace_edges(graph: Graph, src: Tensor, dst: Tensor, weight: Tensor) -> None:
    """Rebuild ``graph`` in place from a directed edge list (E,), keeping its dtype and device."""
    rebuilt = to_graph(
        Edges(src.cpu().numpy(), dst.cpu().numpy(), graph.n, weight.double().cpu().numpy(), directed=True),
        graph.n,
        graph.src.device,
        graph.weight.dtype,
    )
    for field in dataclasses.fields(graph):
        setattr(graph, field.name, getattr(rebuilt, field.name))
