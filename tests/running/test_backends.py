"""Backend equivalence: local serial, local process pool and Ray give identical metrics."""

from __future__ import annotations

import copy
import importlib.util

import pytest

from simlab.running import run

SCENARIO = {
    "name": "backends",
    "seed": 11,
    "replicates": 2,
    "steps": 5,
    "device": "cpu",
    "population": {"type": "uniform", "size": 80, "activity": 0.8},
    "network": {"type": "erdos_renyi", "mean_degree": 4},
    "catalog": {"type": "default", "size": 100, "topics": 4, "creators": 10, "new_per_step": 5},
    "dynamics": {"type": "assimilation", "noise_std": 0.01, "sigma_social": 0.05},
    "recommender": {"type": "random", "slate_size": 5, "candidates": {"size": 20}},
    "variants": {"random": {}, "popularity": {"recommender": {"type": "popularity"}}},
    "output": {"snapshot_every": 0, "figures": False, "report": False, "parquet": True},
}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run(copy.deepcopy(SCENARIO), out=tmp_path_factory.mktemp("serial") / "run", workers=1, quiet=True)


def _same(result, reference) -> None:
    assert result.status == "complete"
    assert (result.path / "metrics.csv").read_bytes() == (reference.path / "metrics.csv").read_bytes()
    assert (result.path / "summary.csv").read_bytes() == (reference.path / "summary.csv").read_bytes()


def test_serial_run_has_every_task(serial):
    metrics = serial.metrics
    assert len(metrics) == 2 * 2 * 5
    assert list(metrics["variant"].unique()) == ["random", "popularity"]
    assert metrics.groupby(["variant", "replicate"]).size().eq(5).all()


def test_two_workers_match_one(serial, tmp_path):
    _same(run(copy.deepcopy(SCENARIO), out=tmp_path / "pool", workers=2, quiet=True), serial)


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'simlab[ray]')")
def test_ray_matches_local(serial, tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        result = run(copy.deepcopy(SCENARIO), out=tmp_path / "ray", backend="ray", quiet=True)
    finally:
        ray.shutdown()
    _same(result, serial)
    assert not (result.path / ".simlab-run-token").exists()


def test_ray_task_without_shared_folder_returns_its_files(tmp_path):
    """A Ray worker that cannot see the run folder runs in a node-local folder and ships the
    files back (called directly here: no cluster needed)."""
    from simlab.config import load_scenario
    from simlab.running import make_tasks
    from simlab.running.backends import _ray_task

    doc = copy.deepcopy(SCENARIO) | {
        "variants": {},
        "replicates": 1,
        "output": SCENARIO["output"] | {"snapshot_every": 2},
    }
    task = make_tasks(load_scenario(doc), tmp_path / "driver", "cpu")[0]
    status = _ray_task(task, "token-the-worker-cannot-see", None)
    assert status["status"] == "complete"
    files = status["files"]
    assert f"tasks/{task.task_id}/metrics.csv" in files
    assert any(name.startswith("snapshots/") for name in files)
    assert not (tmp_path / "driver").exists()
