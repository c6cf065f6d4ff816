"""Direction test (issue 26): unfollowing discordant neighbours raises the echo chamber.

Santos, Lelkes & Levin (PNAS 2021) and Cinus et al. (ICWSM 2022): when users drop links to
neighbours whose opinions lie beyond their confidence bound, the neighbourhoods left agree more,
so the correlation between a user's opinion and its neighbours' mean (``echo_chamber``) and the
opinion assortativity rise against the same society with a fixed graph, paired by replicate.
"""

from __future__ import annotations

import simlab
from simlab.loop.simulation import Simulation

SOCIETY = {
    "name": "unfollow_direction",
    "seed": 5,
    "steps": 12,
    "device": "cpu",
    "population": {"type": "uniform", "size": 150, "confidence": 0.4, "activity": 0.5},
    "network": {"type": "watts_strogatz", "k": 8, "p": 0.1},
    "catalog": {"type": "default", "size": 150, "topics": 4, "creators": 20, "new_per_step": 5},
    "dynamics": {"type": "bounded_confidence", "variant": "deffuant", "mixing": "graph", "convergence": 0.3},
    "recommender": {"type": "random", "slate_size": 5, "candidates": {"size": 20}},
    "metrics": {"include": ["echo_chamber", "assortativity", "rewired_edges"]},
    "output": {"snapshot_every": 0, "figures": False, "report": False, "parquet": False},
}


def _final(people: dict, replicate: int) -> dict[str, float]:
    scenario = simlab.load_scenario({**SOCIETY, "people": people})
    sim = Simulation(scenario, replicate=replicate)
    row: dict[str, float] | None = None
    for _ in range(scenario.steps):
        row = sim.step() or row
    assert row is not None
    return row


def test_unfollowing_raises_echo_chamber_and_assortativity():
    for replicate in range(3):
        fixed = _final({"type": "none"}, replicate)
        unfollow = _final({"type": "none", "unfollow": 0.3}, replicate)
        assert fixed["rewired_edges"] == 0
        assert unfollow["rewired_edges"] > 0
        assert unfollow["echo_chamber"] > fixed["echo_chamber"] + 0.05, replicate
        assert unfollow["assortativity"] > fixed["assortativity"] + 0.05, replicate


def test_link_suggestions_rewire_more_and_mix_the_graph():
    """The scenario's finding (docs/opinion_formation.md): with unfollowing on in both arms,
    Adamic-Adar suggestions add links (more rewiring) and, since friends of friends are not yet
    filtered by opinion, leave a less assortative graph than unfollowing alone, paired by replicate."""
    for replicate in range(3):
        alone = _final({"type": "none", "unfollow": 0.05}, replicate)
        suggested = _final({"type": "adamic_adar", "share": 0.1, "accept": 0.5, "unfollow": 0.05}, replicate)
        assert suggested["rewired_edges"] > alone["rewired_edges"], replicate
        assert suggested["assortativity"] < alone["assortativity"], replicate
