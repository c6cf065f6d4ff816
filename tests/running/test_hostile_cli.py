"""CLI misuse and damaged run folders (issue 13): one clear line and exit 2, never a traceback
or a hang; a checkpoint temp file left by a kill is cleaned on resume."""

from __future__ import annotations

import json
import socket
import time

import pytest
import torch
import yaml

from simlab.cli import main
from simlab.running import checkpoint as checkpoints


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture
def finished(tiny, tmp_path, capsys):
    """A finished tiny run (2 tasks) and its scenario file."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny | {"output": tiny["output"] | {"checkpoint_every": 2}}))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    return path, tmp_path / "run"


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["--steps", "3"], "--steps"), (["--set", "seed=1"], "--set"), (["SCENARIO"], "a scenario argument")],
)
def test_resume_refuses_what_would_change_the_run(extra, named, finished, capsys):
    path, run = finished
    argv = ["run", "--resume", str(run), *[str(path) if e == "SCENARIO" else e for e in extra]]
    assert main(argv) == 2
    line = _one_line(capsys)
    assert f"cannot take {named}" in line and "--resume" in line


def test_negative_steps_are_reported_as_the_option(tiny, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["run", str(path), "--steps", "-1", "--out", str(tmp_path / "r")]) == 2
    assert _one_line(capsys).startswith("error: --steps: expected greater than or equal to 1, found -1")


def test_unreachable_ray_address_fails_fast(tiny, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny))
    with socket.socket() as sock:  # a loopback port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for address in ("127.0.0.1:1", f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        started = time.perf_counter()
        assert main(["run", str(path), "--backend", "ray", "--address", address, "--out", str(tmp_path / "r")]) == 2
        assert time.perf_counter() - started < 10
        assert "--address: cannot reach a Ray cluster at" in _one_line(capsys)
    assert not (tmp_path / "r").exists()  # refused before the run folder is made
    assert main(["run", str(path), "--backend", "ray", "--address", "nonsense", "--out", str(tmp_path / "r")]) == 2
    assert "expected HOST:PORT" in _one_line(capsys)


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "../up", "-rf", "a/b"])
def test_names_that_escape_runs_are_refused(name, tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny | {"name": name}))
    assert main(["run", "s.yaml"]) == 2
    assert "name: expected String should match pattern" in _one_line(capsys)
    assert not (tmp_path / "runs").exists()


def test_max_memory_refuses_and_caps_workers(tiny, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["run", str(path), "--max-memory", "100M", "--out", str(tmp_path / "a")]) == 2
    line = _one_line(capsys)
    assert "estimated peak memory ~" in line and "exceeds the --max-memory of 100.0 MiB" in line
    assert main(["run", str(path), "--max-memory", "lots", "--out", str(tmp_path / "b")]) == 2
    assert "--max-memory: expected a size like 2G" in _one_line(capsys)
    # 1000 workers for 2 tasks: capped to 2, with a note
    assert main(["run", str(path), "--workers", "1000", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert "note: using 2 workers instead of 1000 (2 tasks" in capsys.readouterr().err
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["workers"] == 2


def _interrupt(run, task="0001_base_r1"):
    """Make a finished run look killed mid-way through its second task."""
    folder = run / "tasks" / task
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps(status | {"status": "running"}))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"
    manifest["tasks"][1]["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(manifest))
    for name in ("metrics.csv", "summary.csv"):
        (run / name).unlink()
    return folder


def test_resume_cleans_temp_files_and_ignores_a_corrupt_checkpoint(finished, capsys):
    _, run = finished
    reference = (run / "metrics.csv").read_bytes()
    folder = _interrupt(run)
    # a checkpoint whose metric-bytes field is garbage (it would reach os.truncate)
    manifest = json.loads((run / "manifest.json").read_text())
    spec = manifest["task_specs"][1]
    payload = {
        "format": checkpoints.FORMAT,
        "version": checkpoints.VERSION,
        "task": spec["task_id"],
        "config_hash": checkpoints.task_hash(yaml.safe_load((run / "scenario.yaml").read_text())),
        "step": 2,
        "metric_rows": 2,
        "metric_bytes": "garbage",
        "state": {},
    }
    torch.save(payload, folder / checkpoints.FILENAME)
    leftovers = [folder / ".checkpoint.pt.tmp4242", run / ".manifest.json.tmp17", folder / ".status.json.tmp9"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a file")
    assert main(["run", "--resume", str(run), "--quiet"]) == 0
    assert not any(p.exists() for p in leftovers)
    assert (run / "metrics.csv").read_bytes() == reference  # the task re-ran from the start


def test_damaged_checkpoint_fields_are_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    good = {"format": checkpoints.FORMAT, "version": checkpoints.VERSION, "task": "t", "config_hash": "h"}
    for bad in ({"metric_bytes": "x"}, {"metric_bytes": -5}, {"step": True}, {"metric_rows": 1.5}):
        torch.save(good | {"step": 1, "metric_rows": 1, "metric_bytes": 10, "state": {}} | bad, path)
        with pytest.raises(checkpoints.CheckpointError, match="damaged checkpoint"):
            checkpoints.load(path, task="t", config_hash="h")


@pytest.mark.parametrize("tasks", [[1, 2], ["0000_base_r0", "0001_base_r1"], [None, {}]])
def test_manifest_whose_tasks_are_not_objects(tasks, finished, capsys):
    _, run = finished
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps(manifest | {"tasks": tasks}))
    assert main(["run", "--resume", str(run), "--quiet"]) == 2
    assert "manifest.json" in _one_line(capsys)


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00garbage\x80",
        b'variant,replicate,step,x\n"unclosed,1,2\n',
        b"a,b\n1,2\n",
        b"variant,replicate,step\nx,y,z\n",
    ],
)
def test_compare_and_plot_on_a_garbage_metrics_csv(content, finished, capsys):
    _, run = finished
    (run / "metrics.csv").write_bytes(content)
    for argv in (["compare", str(run), str(run)], ["plot", str(run)]):
        assert main(argv) == 2
        assert "metrics.csv: not a simlab metrics table" in _one_line(capsys)
