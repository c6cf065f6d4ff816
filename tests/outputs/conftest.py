"""Run folders shared by the output tests: a tiny three-feed run and a tiny 2-key sweep, each
with a few metrics (one per family, plus one of no family) so that figures render quickly."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import simlab
from tests.conftest import TINY

METRICS = ["opinion_variance", "extremity", "exposure_extremeness", "coverage", "ctr", "opinion_mean"]


def _doc(**changes: object) -> dict:
    doc = copy.deepcopy(TINY)
    doc.update(
        replicates=3,
        steps=6,
        description="Three feeds on a tiny society: does an oracle push exposure outward?",
        metrics={"include": METRICS},
    )
    doc["output"] = {"snapshot_every": 2, "figures": True, "report": True, "parquet": False}
    doc["variants"] = {"pop": {}, "rand": {"recommender.type": "random"}, "oracle": {"recommender.type": "oracle"}}
    doc.update(changes)
    return doc


@pytest.fixture(scope="session")
def feeds_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run folder: 3 variants x 3 replicates x 6 steps, figures and report written."""
    out = tmp_path_factory.mktemp("feeds") / "run"
    assert simlab.run(_doc(), out=out, quiet=True).status == "complete"
    return out


SWEEP = {"behavior.b_ext": [0.5, 2.0], "population.susceptibility": [0.05, 0.2, 0.4]}


def sweep_document() -> dict:
    """2 variants x a 2 x 3 sweep grid x 2 replicates, metrics.csv and parquet, no figures."""
    doc = _doc(replicates=2, steps=3, sweep=copy.deepcopy(SWEEP))
    doc["variants"] = {"pop": {}, "rand": {"recommender.type": "random"}}
    doc["output"] = {"snapshot_every": 0, "figures": False, "report": False, "parquet": True}
    return doc


def run_sweep(folder: Path) -> Path:
    out = folder / "run"
    assert simlab.run(sweep_document(), out=out, quiet=True).status == "complete"
    return out


@pytest.fixture(scope="session")
def sweep_doc() -> dict:
    return sweep_document()


@pytest.fixture(scope="session")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("sweep"))
