"""``precision: float64``: DeGroot on Zachary's karate club reaches its closed-form consensus to
1e-10, float32 stops short; every shipped scenario runs in float64."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from torch import Tensor

import simlab
from simlab.config import parse_set
from simlab.loop.simulation import Simulation

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
STEPS = 200  # |second eigenvalue| of the karate club's walk is 0.868: 0.868^200 ~ 5e-13


def _consensus() -> tuple[np.ndarray, float]:
    """The clubs at +1 (Mr. Hi) / -1 (Officer) and DeGroot's limit sum_i d_i x_i / sum_i d_i
    (DeGroot 1974: the walk's stationary distribution pi_i = d_i / 2|E| weights x(0))."""
    graph = nx.karate_club_graph()
    clubs = np.array([1.0 if graph.nodes[i]["club"] == "Mr. Hi" else -1.0 for i in range(34)])
    degree = np.array([graph.degree(i) for i in range(34)], dtype=float)
    return clubs, float(degree @ clubs / degree.sum())


def _karate(tmp_path: Path, precision: str) -> Tensor:
    clubs, _ = _consensus()
    path = tmp_path / "clubs.csv"
    path.write_text("".join(f"{x:+.1f}\n" for x in clubs))
    doc = {
        "name": "karate",
        "seed": 1,
        "steps": STEPS,
        "device": "cpu",
        "precision": precision,
        "population": {"type": "file", "path": str(path)},
        "network": {"type": "karate_club"},
        # no feed influence: engaged items carry no weight in the update
        "dynamics": {"type": "degroot", "item_weight": 0.0, "self_weight": 0.0},
        "catalog": {"type": "default", "size": 20, "topics": 2, "creators": 4, "new_per_step": 0},
        "recommender": {"type": "random", "slate_size": 2, "candidates": {"size": 5}, "log_capacity": 100},
        "metrics": {"include": ["opinion_mean"]},
        "output": {"snapshot_every": 0, "figures": False, "report": False, "parquet": False},
    }
    sim = Simulation(simlab.load_scenario(doc), 0)
    assert sim.users.opinion[:, 0].tolist() == clubs.tolist()
    for _ in range(STEPS):
        sim.step()
    return sim.users.opinion


def test_degroot_on_the_karate_club_reaches_the_closed_form_in_float64(tmp_path):
    _, consensus = _consensus()
    assert abs(consensus - 1 / 26) < 1e-15  # (D_Hi - D_Officer) / 2|E| = 6 / 156, as the issue says
    x64 = _karate(tmp_path, "float64")
    assert x64.dtype == torch.float64
    gap64 = float((x64 - consensus).abs().max())
    assert gap64 < 1e-10
    x32 = _karate(tmp_path, "float32")
    assert x32.dtype == torch.float32
    gap32 = float((x32.double() - consensus).abs().max())
    # measured: float32 stops 8.3e-8 away (each step rounds), float64 7.5e-16
    assert gap32 > 1e-8 and gap32 > 1000 * gap64


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_runs_in_float64(path):
    doc = simlab.load_scenario(path).to_dict()
    sets = ["precision=float64", "steps=2", "replicates=1", "device=cpu", "catalog.size=80"]
    fixed_size = doc["network"]["type"] == "karate_club" or doc["population"]["type"] == "file"
    if not fixed_size:
        sets.append("population.size=60")
    scenario = simlab.load_scenario(path, parse_set(sets))
    for label, variant in scenario.tasks():
        sim = Simulation(variant, 0)
        rows = [sim.step() for _ in range(2)]
        assert sim.users.opinion.dtype == torch.float64, label
        assert sim.catalog.stance.dtype == torch.float64, label
        assert all(r is not None and all(isinstance(v, float) for v in r.values()) for r in rows), label
