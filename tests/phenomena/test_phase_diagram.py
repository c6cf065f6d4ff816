"""Phenomenon 6, small version: the classifier of analysis/phase_diagram.py on hand-made opinion
states, and two corners of the diagram (wide confidence: consensus; narrow: no consensus)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "analysis") not in sys.path:  # the script imports its helper module, _phenomena
    sys.path.insert(0, str(ROOT / "analysis"))
spec = importlib.util.spec_from_file_location("phase_diagram", ROOT / "analysis" / "phase_diagram.py")
assert spec is not None and spec.loader is not None
phase = importlib.util.module_from_spec(spec)
spec.loader.exec_module(phase)


def _around(centres: list[float], n: int = 300, width: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([c + width * rng.uniform(-1, 1, n) for c in centres])[:, None]


def test_classifier_on_hand_made_states():
    assert phase.classify(_around([0.1]))[:2] == ("consensus", 1)
    assert phase.classify(_around([-0.7, 0.7]))[:2] == ("polarisation", 2)
    assert phase.classify(_around([-0.6, 0.0, 0.6]))[:2] == ("fragmentation", 3)
    spread = np.linspace(-1, 1, 900)[:, None]  # no gaps, no groups
    assert phase.classify(spread)[:2] == ("dispersed", 1)
    # a cluster below MIN_SHARE of the users does not count
    tiny_group = np.concatenate([_around([-0.5], 500), _around([0.8], 10)])
    assert phase.clusters(tiny_group) == 1


def test_wide_confidence_reaches_consensus_and_narrow_fragments(phenomenon):
    small, run = phenomenon.small, phenomenon.run
    size = {"population.size": 200, "catalog.size": 300, "steps": 40, "behavior.b_ext": 0.0}
    wide, _ = run(small("phase_diagram", {**size, "population.confidence": 1.0}))
    narrow, _ = run(small("phase_diagram", {**size, "population.confidence": 0.1}))
    assert phase.classify(wide.users.opinion.numpy())[0] == "consensus"
    label, _, variance, _ = phase.classify(narrow.users.opinion.numpy())
    assert label != "consensus" and variance > 0.1  # (not yet settled into clusters at 40 steps)
