"""The runner: streaming per-task metrics, merging, failure handling, progress, memory."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simlab.cli import main
from simlab.config import load_scenario
from simlab.core.errors import ScenarioError
from simlab.running import execute_task, make_tasks, run

# a variant whose dynamics overflow float32: +-inf content and noise terms add up to NaN
# opinions at the first step, which the engine reports naming the step and the component
EXPLOSIVE = {
    "dynamics": {"type": "assimilation", "beta_backfire": 3.0e38, "rho": 0.0, "noise_std": 3.0e38},
    "population": {"confidence": 0.001},
}


def _with_variants(tiny: dict, variants: dict) -> dict:
    doc = copy.deepcopy(tiny)
    doc["variants"] = variants
    doc["output"] = doc["output"] | {"parquet": True}
    return doc


def test_run_folder_and_merge(tiny, tmp_path):
    result = run(
        _with_variants(tiny, {"a": {}, "b": {"recommender": {"type": "random"}}}), out=tmp_path / "r", quiet=True
    )
    folder = result.path
    for name in ("scenario.yaml", "manifest.json", "metrics.csv", "metrics.parquet", "summary.csv"):
        assert (folder / name).exists(), name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert [t["status"] for t in manifest["tasks"]] == ["complete"] * 4
    # the merged file is the task streams concatenated in task order
    task_files = sorted((folder / "tasks").glob("*/metrics.csv"))
    assert len(task_files) == 4
    body = b"".join(p.read_bytes().split(b"\n", 1)[1] for p in task_files)
    header = task_files[0].read_bytes().split(b"\n", 1)[0]
    assert (folder / "metrics.csv").read_bytes() == header + b"\n" + body
    metrics = result.metrics
    assert list(metrics.columns[:3]) == ["variant", "replicate", "step"]
    assert len(metrics) == 4 * tiny["steps"]
    parquet = pd.read_parquet(folder / "metrics.parquet")
    pd.testing.assert_frame_equal(parquet, metrics, check_dtype=False)
    summary = pd.read_csv(folder / "summary.csv")
    assert set(summary["variant"]) == {"a", "b"}
    assert not list(folder.rglob(".*tmp*"))  # every write went through a rename


def test_metrics_are_streamed_while_a_task_runs(tiny, tmp_path):
    scenario = load_scenario(tiny)
    task = make_tasks(scenario, tmp_path, "cpu")[0]
    seen = []

    def progress(event, task_id, value):
        if event == "step":
            path = tmp_path / "tasks" / task_id / "metrics.csv"
            seen.append(path.read_text().count("\n") - 1)

    assert execute_task(task, progress)["status"] == "complete"
    assert seen == list(range(1, tiny["steps"] + 1))  # each row is on disk when its step ends


def test_one_failing_task_does_not_lose_the_others(tiny, tmp_path, capsys):
    doc = _with_variants(tiny, {"calm": {}, "explosive": EXPLOSIVE})
    result = run(doc, out=tmp_path / "r", quiet=True)
    manifest = result.manifest
    assert manifest["status"] == "partial"
    by_variant = {(t["variant"], t["replicate"]): t for t in manifest["tasks"]}
    assert by_variant[("calm", 0)]["status"] == by_variant[("calm", 1)]["status"] == "complete"
    failed = by_variant[("explosive", 0)]
    assert failed["status"] == "failed"
    assert "step 0" in failed["error"] and "dynamics 'assimilation'" in failed["error"]
    assert "non-finite" in failed["error"]
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["status"] == "partial"
    status = json.loads((tmp_path / "r" / "tasks" / failed["task"] / "status.json").read_text())
    assert "Traceback" in status["traceback"]  # kept for debugging, out of the manifest
    # the merged outputs hold the completed tasks only
    assert set(result.metrics["variant"]) == {"calm"}
    assert len(result.metrics) == 2 * tiny["steps"]
    err = capsys.readouterr().err
    assert "task 0002_explosive_r0 failed: SimulationError: step 0" in err
    assert "2 of 4 tasks failed (run status partial)" in err


def test_failing_tasks_in_a_process_pool(tiny, tmp_path):
    doc = _with_variants(tiny, {"calm": {}, "explosive": EXPLOSIVE})
    result = run(doc, out=tmp_path / "r", quiet=True, workers=2)
    assert result.status == "partial"
    assert [t["status"] for t in result.manifest["tasks"]] == ["complete", "complete", "failed", "failed"]


def test_cli_exit_code_for_a_partial_run_is_1(tiny, tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_with_variants(tiny, {"calm": {}, "explosive": EXPLOSIVE})))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "run status partial" in captured.err
    assert captured.out == f"run folder: {tmp_path / 'r'}\n"  # --quiet: no progress, no summary; the folder


def test_progress_bars_and_final_line(tiny, tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == f"run folder: {tmp_path / 'r'}"
    # captured stderr is not a terminal: plain progress lines, no bars (tests/running/test_progress.py)
    assert captured.err.splitlines()[-1].startswith("simlab: 8/8 steps (100%), 2/2 tasks done")
    assert "\x1b[" not in captured.err


def test_run_refuses_a_non_empty_folder(tiny, tmp_path):
    run(copy.deepcopy(tiny), out=tmp_path / "r", quiet=True)
    with pytest.raises(ScenarioError, match="--resume"):
        run(copy.deepcopy(tiny), out=tmp_path / "r", quiet=True)


def test_bad_backend_and_workers_are_user_errors(tiny, tmp_path):
    with pytest.raises(ScenarioError, match="backend"):
        run(copy.deepcopy(tiny), out=tmp_path / "a", backend="slurm", quiet=True)
    with pytest.raises(ScenarioError, match="workers"):
        run(copy.deepcopy(tiny), out=tmp_path / "b", workers=0, quiet=True)


MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys, tempfile, yaml
    from simlab.cli import main
    n, folder = int(sys.argv[1]), tempfile.mkdtemp()
    doc = {"name": "mem", "seed": 1, "replicates": n, "steps": 3, "device": "cpu",
           "population": {"type": "uniform", "size": 200, "activity": 0.8},
           "catalog": {"type": "default", "size": 200, "topics": 4, "creators": 10, "new_per_step": 5},
           "recommender": {"type": "popularity", "slate_size": 5, "candidates": {"size": 20},
                           "log_capacity": 100000, "history_length": 20},
           "output": {"snapshot_every": 0, "figures": False, "report": False, "parquet": True}}
    open(folder + "/s.yaml", "w").write(yaml.safe_dump(doc))
    rc = main(["run", folder + "/s.yaml", "--out", folder + "/run", "--quiet"])
    print(json.dumps({"rc": rc, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)


def _peak_rss_kb(replicates: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(replicates)], capture_output=True, text=True, check=True, timeout=300
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0
    return result["maxrss_kb"]


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_memory_does_not_grow_with_replicates():
    """Peak RSS of 8 replicates vs 2, run one after another in one process.

    Each task's working set includes its impression log, whose history column alone is
    100000 x 20 int64 = 16 MB, written at allocation. A runner that kept finished simulations
    (or all metric rows) alive would grow by about 6 x 16 MB = 96 MB or more; streaming keeps
    the growth to allocator noise, so the bound is half of one task's log, 8 MB.
    """
    small, large = _peak_rss_kb(2), _peak_rss_kb(8)
    assert large - small < 8 * 1024, f"peak RSS grew by {(large - small) / 1024:.1f} MB from 2 to 8 replicates"


def test_task_ids_sort_in_task_order(tiny, tmp_path):
    doc = copy.deepcopy(tiny) | {"replicates": 3, "sweep": {"seed": list(range(4))}}
    tasks = make_tasks(load_scenario(doc), Path(tmp_path), "cpu")
    ids = [t.task_id for t in tasks]
    assert ids == sorted(ids) and len(set(ids)) == 12
