"""Every shipped scenario loads and runs a few steps; the quickstart separates its feeds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import simlab
from simlab.loop.simulation import Simulation

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def test_scenarios_exist():
    assert any(p.name == "quickstart.yaml" for p in SCENARIOS)


# the CUDA runs need a GPU: skipped where torch sees none (CI), run with -m cuda on a GPU machine
CUDA = pytest.param(
    "cuda",
    marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")],
)


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_loads_and_runs_three_steps(path, device):
    scenario = simlab.load_scenario(path, {"device": device})
    for label, variant in scenario.tasks():
        sim = Simulation(variant, replicate=0)
        rows = [sim.step() for _ in range(3)]
        assert sim.t == 3, label
        assert sim.users.opinion.device.type == device
        assert all(r is None or all(isinstance(v, float) for v in r.values()) for r in rows)
        assert all(math.isfinite(v) for r in rows if r for v in r.values() if not math.isnan(v)), label


@pytest.mark.slow  # the quickstart at full size (6 tasks x 25 steps): CI runs it with -m slow
def test_quickstart_feeds_differ(tmp_path):
    result = simlab.run(
        "scenarios/quickstart.yaml",
        out=tmp_path / "q",
        steps=25,
        replicates=2,
        quiet=True,
        overrides={"output.figures": False, "output.report": False},
    )
    final = result.metrics[result.metrics["step"] == 24].groupby("variant").mean(numeric_only=True)
    # the oracle ranks by true engagement probability: more engagement than a random feed
    assert final.loc["oracle", "ctr"] > final.loc["random", "ctr"] + 0.03
    # a popularity feed concentrates exposure on few items
    assert final.loc["popularity", "coverage"] < 0.5 * final.loc["random", "coverage"]
