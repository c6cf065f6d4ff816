"""People recommenders (the platform's link suggestions) on hand-built graphs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from simlab.core.state import Edges
from simlab.registry import PEOPLE
from simlab.society.network import to_graph


def _graph(pairs, n):
    pairs = np.array(pairs)
    return to_graph(Edges(pairs[:, 0], pairs[:, 1], n), n)


def _recommend(kind, graph, users, history=None, seed=0):
    view = SimpleNamespace(history=history if history is not None else torch.full((graph.n, 2), -1))
    generator = torch.Generator().manual_seed(seed)
    return PEOPLE.build({"type": kind}).recommend(torch.tensor(users), graph, view, generator).tolist()


def test_common_neighbours_picks_the_most_shared_friends():
    # 0 - 1, 0 - 2, 1 - 3, 2 - 3, 1 - 4: user 0 reaches 3 by two paths and 4 by one
    graph = _graph([(0, 1), (0, 2), (1, 3), (2, 3), (1, 4)], 5)
    assert _recommend("common_neighbours", graph, [0]) == [3]
    # user 3 reaches 0 by two paths (via 1 and 2) and 4 by one (via 1)
    assert _recommend("common_neighbours", graph, [3]) == [0]


def test_adamic_adar_discounts_hubs():
    # 0's friends: hub 1 (degree 5) and 2 (degree 2); 3 hangs off the hub, 4 off node 2. Common
    # neighbours ties 3 and 4 (one each); Adamic-Adar prefers 4 (1/log 2 > 1/log 5)
    graph = _graph([(0, 1), (0, 2), (1, 3), (2, 4), (1, 5), (1, 6), (1, 7)], 8)
    assert _recommend("adamic_adar", graph, [0]) == [4]
    picks = {_recommend("common_neighbours", graph, [0], seed=s)[0] for s in range(30)}
    assert picks == {3, 4, 5, 6, 7}  # ties broken at random among the friends of friends


def test_engagement_similarity_picks_the_user_with_the_most_shared_items():
    graph = _graph([(0, 3)], 4)
    history = torch.tensor([[1, 2, 5], [1, 2, -1], [1, -1, -1], [1, 2, 5]])
    # user 3 shares the most (3 items) but 0 follows it already: next is user 1 (2 items)
    assert _recommend("engagement_similarity", graph, [0], history) == [1]
    # no history at all: nothing to suggest
    assert _recommend("engagement_similarity", graph, [0, 1]) == [-1, -1]


def test_random_never_suggests_oneself_or_a_friend():
    graph = _graph([(0, 1), (0, 2)], 4)
    picks = {_recommend("random", graph, [0], seed=s)[0] for s in range(20)}
    assert picks == {3}
    full = _graph([(0, 1), (0, 2), (0, 3)], 4)
    assert _recommend("random", full, [0]) == [-1]


def test_friends_of_friends_suggest_nothing_without_them():
    graph = _graph([(0, 1)], 3)
    assert _recommend("common_neighbours", graph, [0, 2]) == [-1, -1]
    assert _recommend("none", graph, [0, 2]) == [-1, -1]
