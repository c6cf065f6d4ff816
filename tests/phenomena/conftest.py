"""Small versions of the phenomenon scenarios for the direction tests: the scenario file with
fewer users, items and steps, run in-process (fixture ``phenomenon``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

import simlab
from simlab.config.overrides import apply_overrides
from simlab.loop.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]


def small(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """scenarios/<name>.yaml with ``overrides`` (dotted keys), no variants or sweep."""
    doc = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    doc.pop("variants", None)
    doc.pop("sweep", None)
    doc["device"] = "cpu"
    return apply_overrides(doc, overrides)


def run(doc: dict[str, Any], replicate: int = 0) -> tuple[Simulation, list[dict[str, float]]]:
    """Every recorded row of one replicate, and the finished Simulation."""
    scenario = simlab.load_scenario(doc)
    sim = Simulation(scenario, replicate)
    rows = [row for row in (sim.step() for _ in range(scenario.steps)) if row is not None]
    return sim, rows


def tail(rows: list[dict[str, float]], name: str, last: int = 5) -> float:
    """Mean of a metric over the last ``last`` recorded steps."""
    values = [r[name] for r in rows[-last:]]
    return sum(values) / len(values)


@pytest.fixture
def phenomenon() -> SimpleNamespace:
    """small(name, overrides), run(doc, replicate), tail(rows, name, last) and the repo root."""
    return SimpleNamespace(small=small, run=run, tail=tail, root=ROOT)
