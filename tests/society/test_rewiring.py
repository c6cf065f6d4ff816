"""The users' side of rewiring (accepting, unfollowing) and the people block in the loop."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import simlab
from simlab.core.state import Edges
from simlab.loop.simulation import Simulation
from simlab.registry import PEOPLE
from simlab.society.network import to_graph
from simlab.society.rewiring import rewire_step, rewires


def _graph(pairs, n):
    pairs = np.array(pairs)
    return to_graph(Edges(pairs[:, 0], pairs[:, 1], n), n)


def _users(opinion, confidence):
    return SimpleNamespace(
        opinion=torch.tensor(opinion).reshape(len(opinion), -1), confidence=torch.full((len(opinion),), confidence)
    )


def _step(kind, graph, users, **settings):
    people = PEOPLE.build({"type": kind, **settings})
    view = SimpleNamespace(history=torch.full((graph.n, 2), -1))
    gen = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    return rewire_step(graph, users, view, people, people.settings, *gen)


def test_users_unfollow_neighbours_beyond_their_confidence_bound():
    graph = _graph([(0, 1), (0, 2)], 3)
    users = _users([0.0, 1.0, 0.1], confidence=0.5)
    assert _step("none", graph, users, unfollow=1.0) == 1  # the 0 - 1 friendship, both directions
    assert sorted(zip(graph.src.tolist(), graph.dst.tolist())) == [(0, 2), (2, 0)]
    assert graph.degree.tolist() == [1.0, 0.0, 1.0]
    # social influence reads the rewired graph: 0 now listens to 2 only
    assert graph.neighbour_mean(users.opinion).flatten().tolist() == pytest.approx([0.1, 1.0, 0.0])


def test_one_way_unfollowing_keeps_the_other_direction():
    graph = _graph([(0, 1)], 2)
    users = _users([0.0, 1.0], confidence=0.5)
    users.confidence = torch.tensor([0.5, 2.0])  # only user 0 finds the other too far
    assert _step("none", graph, users, unfollow=1.0, reciprocal=False) == 1
    assert list(zip(graph.src.tolist(), graph.dst.tolist())) == [(1, 0)]


def test_suggested_links_are_followed_and_counted_once():
    graph = _graph([(0, 1), (1, 2)], 3)
    users = _users([0.0, 0.0, 0.0], confidence=0.5)
    # everyone asked, everyone accepts: 0 and 2 are suggested to each other, one new friendship
    assert _step("common_neighbours", graph, users, share=1.0, accept=1.0) == 1
    assert sorted(zip(graph.src.tolist(), graph.dst.tolist())) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    # nobody accepts: nothing changes
    graph = _graph([(0, 1), (1, 2)], 3)
    assert _step("common_neighbours", graph, users, share=1.0, accept=0.0) == 0
    assert graph.src.numel() == 4


def test_the_default_block_cannot_rewire():
    people = PEOPLE.build({"type": "none"})
    assert not rewires(people, people.settings)
    assert rewires(PEOPLE.build({"type": "random"}), PEOPLE.build({"type": "random"}).settings)


def test_default_scenario_draws_nothing_for_people(tiny):
    sim = Simulation(simlab.load_scenario(tiny))
    edges = sim.graph.src.clone()
    for _ in range(3):
        sim.step()
    assert not any(name.startswith("people") for name in sim.streams.state_dict())
    assert torch.equal(sim.graph.src, edges)


def test_rewiring_run_resumes_exactly(tiny):
    tiny["people"] = {"type": "adamic_adar", "share": 0.5, "accept": 0.8, "unfollow": 0.3}
    tiny["metrics"] = {"include": ["echo_chamber", "rewired_edges", "opinion_variance"]}
    scenario = simlab.load_scenario(tiny)
    first = Simulation(scenario)
    for _ in range(2):
        first.step()
    state = first.state_dict()
    second = Simulation(scenario)
    second.load_state_dict(state)
    rows = [first.step(), first.step()], [second.step(), second.step()]
    assert rows[0] == rows[1]
    assert rows[0][-1]["rewired_edges"] > 0
