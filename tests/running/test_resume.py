"""Checkpoints and ``simlab run --resume``: a run killed with SIGKILL mid-way and resumed gives
a metrics.csv byte-identical to an uninterrupted run."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from simlab.cli import main
from simlab.config import load_scenario
from simlab.loop.simulation import Simulation
from simlab.running import checkpoint, run

# every kind of state a step reads: opinions (noise and social terms), catalog growth and
# creator drift, counters and history (popularity), the impression log, RNG streams
# (activity, candidates, softmax policy, response, dynamics, catalog)
SCENARIO = {
    "name": "resume",
    "seed": 5,
    "replicates": 2,
    "steps": 150,
    "device": "cpu",
    "population": {"type": "uniform", "size": 1500, "activity": 0.7},
    "network": {"type": "erdos_renyi", "mean_degree": 6},
    "catalog": {"type": "default", "size": 600, "topics": 5, "creators": 30, "new_per_step": 10, "creator_drift": 0.1},
    "dynamics": {"type": "assimilation", "noise_std": 0.01, "sigma_social": 0.05, "beta_backfire": 0.3, "rho": 1.0},
    "recommender": {
        "type": "popularity",
        "slate_size": 8,
        "log_capacity": 5000,
        "candidates": {"size": 40},
        "policy": {"type": "softmax", "temperature": 0.5},
    },
    "output": {"snapshot_every": 50, "checkpoint_every": 5, "figures": False, "report": False, "parquet": True},
}


def _rows(path: Path) -> int:
    try:
        return max(0, path.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def test_state_dict_round_trip_continues_identically():
    doc = copy.deepcopy(SCENARIO) | {"steps": 12}
    scenario = load_scenario(doc)
    a = Simulation(scenario, 1, "cpu")
    for _ in range(5):
        a.step()
    state = a.state_dict()
    b = Simulation(scenario, 1, "cpu")
    b.load_state_dict(state)
    for _ in range(7):
        np.testing.assert_equal(a.step(), b.step())  # exact, and NaN (an empty cohort) == NaN
    assert torch.equal(a.users.opinion, b.users.opinion)


def test_checkpoint_loads_with_weights_only(tmp_path):
    scenario = load_scenario(copy.deepcopy(SCENARIO) | {"steps": 3})
    sim = Simulation(scenario, 0, "cpu")
    for _ in range(3):
        sim.step()
    path = tmp_path / checkpoint.FILENAME
    checkpoint.save(path, task="t", config_hash="h", step=sim.t, rows=3, nbytes=10, state=sim.state_dict())
    payload = torch.load(path, weights_only=True)  # plain containers and tensors only
    assert payload["step"] == 3 and payload["metric_rows"] == 3
    assert {"users", "catalog", "log", "recommender", "streams", "recorder"} <= set(payload["state"])
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, nothing left behind
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(path, task="t", config_hash="another")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(tmp_path / "bad.pt", task="t", config_hash="h")


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    reference = run(copy.deepcopy(SCENARIO), out=tmp_path / "reference", quiet=True)
    assert reference.status == "complete"

    scenario_file = tmp_path / "resume.yaml"
    scenario_file.write_text(yaml.safe_dump(SCENARIO))
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "simlab", "run", str(scenario_file), "--out", str(killed), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait until the second task has streamed rows past one of its checkpoints, then kill
    second = killed / "tasks" / "0001_base_r1"
    deadline = time.monotonic() + 120
    caught = False
    while time.monotonic() < deadline and process.poll() is None:
        if (second / checkpoint.FILENAME).exists():
            try:
                saved = torch.load(second / checkpoint.FILENAME, weights_only=True)["metric_rows"]
            except Exception:  # replaced while reading: look again
                continue
            if saved >= 10 and _rows(second / "metrics.csv") > saved:
                os.kill(process.pid, signal.SIGKILL)
                caught = True
                break
        time.sleep(0.002)
    process.wait(timeout=60)
    assert caught, f"the run ended before it could be killed: {process.stderr.read().decode()}"
    assert process.returncode == -signal.SIGKILL
    assert json.loads((killed / "tasks" / "0000_base_r0" / "status.json").read_text())["status"] == "complete"
    assert json.loads((second / "status.json").read_text())["status"] == "running"
    assert not (killed / "metrics.csv").exists()

    assert main(["run", "--resume", str(killed), "--quiet"]) == 0

    assert (killed / "metrics.csv").read_bytes() == (reference.path / "metrics.csv").read_bytes()
    assert (killed / "summary.csv").read_bytes() == (reference.path / "summary.csv").read_bytes()
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["resumed"]) == 1
    assert [t["status"] for t in manifest["tasks"]] == ["complete", "complete"]
    assert manifest["tasks"][1]["resumed_from_step"] >= 10
    assert "resumed_from_step" not in manifest["tasks"][0]  # the finished task was not run again
    assert not (second / checkpoint.FILENAME).exists()
    for snap in (reference.path / "snapshots").glob("*.npz"):
        assert (killed / "snapshots" / snap.name).exists()


def test_resume_of_a_run_that_never_checkpointed(tmp_path):
    """A task interrupted before its first checkpoint starts over; the result is the same."""
    doc = copy.deepcopy(SCENARIO) | {"steps": 6, "replicates": 1}
    reference = run(copy.deepcopy(doc), out=tmp_path / "reference", quiet=True)
    folder = tmp_path / "partial"
    run(copy.deepcopy(doc), out=folder, quiet=True)
    # make it look interrupted: the task's status says running and its stream is cut short
    task = folder / "tasks" / "0000_base_r0"
    (task / "status.json").write_text(json.dumps({"status": "running"}))
    (task / "metrics.csv").write_bytes((task / "metrics.csv").read_bytes()[:200])
    (folder / "metrics.csv").unlink()
    assert main(["run", "--resume", str(folder), "--quiet"]) == 0
    assert (folder / "metrics.csv").read_bytes() == (reference.path / "metrics.csv").read_bytes()


def test_resume_rejects_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and ("manifest.json" in err or "scenario.yaml" in err)
    assert "Traceback" not in err
