"""Checkpoint round trip of a whole Simulation with learning recommenders: a simulation restored
from a mid-run state_dict continues with exactly the same numbers."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import simlab
from simlab.loop.simulation import Simulation


@pytest.mark.parametrize("recommender", ["dlrm", "als", "popularity"])
def test_restored_simulation_continues_identically(tiny, recommender):
    tiny["recommender"] = {"type": recommender, "slate_size": 5, "candidates": {"size": 20}}
    scenario = simlab.load_scenario(tiny, {"steps": 8})
    straight = Simulation(scenario, 1)
    rows = [straight.step() for _ in range(8)]

    first = Simulation(scenario, 1)
    for _ in range(4):
        first.step()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    restored = Simulation(scenario, 1)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    resumed = [restored.step() for _ in range(4)]
    np.testing.assert_equal(resumed, rows[4:])  # exact, and NaN (a metric of an empty cohort) == NaN
    assert torch.equal(restored.users.opinion, straight.users.opinion)
