"""Shared fixtures: tiny scenarios that run in well under a second."""

from __future__ import annotations

import copy
import os

import pytest
import torch

torch.set_num_threads(1)

TINY = {
    "name": "tiny",
    "seed": 3,
    "replicates": 2,
    "steps": 4,
    "device": "cpu",
    "population": {"type": "uniform", "size": 60, "activity": 0.8},
    "network": {"type": "erdos_renyi", "mean_degree": 4},
    "catalog": {"type": "default", "size": 80, "topics": 4, "creators": 10, "new_per_step": 5},
    "recommender": {"type": "popularity", "slate_size": 5, "candidates": {"size": 20}},
    "output": {"snapshot_every": 2, "figures": False, "report": False, "parquet": False},
}


@pytest.fixture
def tiny() -> dict:
    """A fresh copy of a tiny scenario document (edit freely)."""
    return copy.deepcopy(TINY)


# CI explores a fixed set of generated examples (a red CI must be reproducible); local runs keep
# hypothesis's random exploration, and SIMLAB_FUZZ_EXAMPLES raises the count for a long hunt.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

# `simlab run` and `simlab compare` default to one worker per usable core ($SIMLAB_WORKERS
# overrides that): the suite's tiny runs take less time than starting a process pool, so they run
# serially unless a test asks for workers (tests/running/test_resources.py checks the default).
os.environ["SIMLAB_WORKERS"] = "1"
