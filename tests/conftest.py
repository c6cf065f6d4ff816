"""Shared fixtures: tiny scenarios that run in well under a second."""

from __future__ import annotations

import copy

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
