"""The command line: run, validate, list, compare, plot, report; exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import yaml

from simlab.cli import main


def _write(tmp_path, doc) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_run_writes_the_run_folder(tiny, tmp_path, capsys):
    tiny["variants"] = {"pop": {}, "random": {"recommender": {"type": "random"}}}
    tiny["output"].update(figures=True, report=True, parquet=True)
    out = tmp_path / "run"
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--set", "steps=3"]) == 0
    assert f"run folder: {out}" in capsys.readouterr().out
    for name in [
        "scenario.yaml",
        "manifest.json",
        "metrics.csv",
        "metrics.parquet",
        "summary.csv",
        "report.html",
        "figures/metrics_polarization.png",
        "figures/opinion_heatmap.png",
    ]:
        assert (out / name).exists(), name
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns[:3]) == ["variant", "replicate", "step"]
    assert {"opinion_mean", "ctr", "coverage", "exposure_extremeness"} <= set(metrics.columns)
    assert len(metrics) == 2 * 2 * 3  # variants x replicates x steps
    summary = pd.read_csv(out / "summary.csv")
    assert {"final_mean", "ci_low", "ci_high", "diff_vs_first"} <= set(summary.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == 3 and manifest["config_hash"]
    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["steps"] == 3 and resolved["dynamics"]["type"] == "assimilation"
    snaps = list((out / "snapshots").glob("*.npz"))
    assert snaps


def test_existing_run_folder_is_not_overwritten(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "precious"


def test_validate_and_list(tiny, tmp_path, capsys):
    assert main(["validate", _write(tmp_path, tiny)]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    for word in ["recommender:", "oracle", "popularity", "dynamics:", "assimilation", "metric:"]:
        assert word in listed


def test_invalid_input_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\npopulation:\n  size: -3\n")
    proc = subprocess.run([sys.executable, "-m", "simlab", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "Traceback" not in proc.stderr
    assert f"{path}:3: population.size" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "simlab", "run", str(tmp_path / "none.yaml")], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "file not found" in proc.stderr


def test_compare_plot_report_on_run_folders(tiny, tmp_path, capsys):
    tiny["variants"] = {"pop": {}, "random": {"recommender": {"type": "random"}}}
    out = tmp_path / "run"
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--quiet"]) == 0
    assert main(["compare", str(out)]) == 0
    assert "opinion_variance" in capsys.readouterr().out
    assert main(["plot", str(out)]) == 0
    assert (out / "figures" / "metrics_polarization.png").exists()
    assert main(["report", str(out)]) == 0
    assert main(["plot", str(tmp_path)]) == 2


def test_steps_0_is_rejected_naming_the_flag(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --steps: expected greater than or equal to 1, found 0")
    assert not out.exists()  # rejected before any work starts
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--replicates", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --replicates:")


def test_a_closed_stdout_pipe_ends_quietly(tiny, tmp_path):
    tiny["variants"] = {"pop": {}, "random": {"recommender": {"type": "random"}}}
    out = tmp_path / "run"
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--quiet"]) == 0
    # like `simlab compare RUN_DIR | head -0`: the reader is gone before simlab writes
    proc = subprocess.Popen(
        [sys.executable, "-m", "simlab", "compare", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


def test_learnability_prints_a_table_per_recommender(tiny, tmp_path, capsys):
    path = _write(tmp_path, tiny)
    assert main(["learnability", path, "--steps", "6", "--recommender", "popularity", "als"]) == 0
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if line.startswith("| popularity") or line.startswith("| als")]
    assert len(rows) == 2 and "n/a" in rows[0]  # popularity trains nothing: no offline share
    assert "learnability of als" in captured.err  # progress on stderr
    assert main(["learnability", path, "--steps", "2"]) == 2
    assert "--steps" in capsys.readouterr().err


# ------------------------------------------------------------------ what the CLI says (issue 29)


def test_run_prints_a_short_summary_and_quiet_keeps_only_the_run_folder_line(tiny, tmp_path, capsys):
    tiny["variants"] = {"pop": {}, "random": {"recommender": {"type": "random"}}}
    path = _write(tmp_path, tiny)
    assert main(["run", path, "--out", str(tmp_path / "loud")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == "final step: mean and 95% t-interval over 2 replicates; Δ = paired difference to pop (* = excludes 0)"
    )
    assert out[1] == "n = 2: few replicates"
    header = next(line for line in out if line.split()[:2] == ["pop", "random"])
    assert header.startswith(" ")
    ctr = next(line for line in out if line.startswith("Click-through rate"))
    summary = pd.read_csv(tmp_path / "loud" / "summary.csv").set_index(["variant", "metric"])
    mean, low = summary.loc[("pop", "ctr"), "final_mean"], summary.loc[("pop", "ctr"), "ci_low"]
    assert f"{mean:#.3g} [{low:#.3g}," in ctr  # the numbers are summary.csv's
    assert any(line.strip().startswith("Δ ") for line in out)
    assert out[-1] == f"run folder: {tmp_path / 'loud'}"
    assert main(["run", path, "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert capsys.readouterr().out == f"run folder: {tmp_path / 'quiet'}\n"


def test_ctrl_c_says_how_to_resume(tiny, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("simlab.running.folder.execute", interrupted)
    out = tmp_path / "run"
    assert main(["run", _write(tmp_path, tiny), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"interrupted; finish the run with: simlab run --resume {out}")
    assert "restart from step 0" in err and "output.checkpoint_every" in err  # the tiny run keeps no checkpoints
    tiny["output"]["checkpoint_every"] = 2
    assert main(["run", _write(tmp_path, tiny), "--out", str(tmp_path / "again"), "--quiet"]) == 130
    assert (
        capsys.readouterr().err.strip() == f"interrupted; finish the run with: simlab run --resume {tmp_path / 'again'}"
    )


def test_resume_without_checkpoints_says_unfinished_tasks_restart(tiny, tmp_path, capsys):
    folder = tmp_path / "run"
    assert main(["run", _write(tmp_path, tiny), "--out", str(folder), "--quiet"]) == 0
    capsys.readouterr()
    task = sorted((folder / "tasks").iterdir())[1]  # make the second task look interrupted
    (task / "status.json").write_text(json.dumps({"status": "running"}))
    assert main(["run", "--resume", str(folder), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "note: 1 unfinished task(s) have no checkpoint (output.checkpoint_every: 0) and restart from step 0" in err
    assert "1 complete or checkpointed task(s) are kept" in err


def test_an_unknown_key_lists_every_valid_key_and_suggests_one(tiny, tmp_path, capsys):
    path = _write(tmp_path, tiny)
    assert main(["validate", path]) == 0
    capsys.readouterr()
    assert main(["run", path, "--set", "recommender.slate_sise=4", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "error: --set: recommender.slate_sise: unknown key; did you mean 'slate_size'? expected one of"
    )
    for key in ("prior_impressions", "slate_size", "retrain_every", "candidates", "policy", "history_length"):
        assert repr(key) in err  # the popularity feed's own key and the loop keys every recommender shares
    tiny["populaton"] = {"size": 10}
    assert main(["validate", _write(tmp_path, tiny)]) == 2
    assert "did you mean 'population'?" in capsys.readouterr().err
    del tiny["populaton"]
    tiny["recommender"]["type"] = "populartiy"
    assert main(["validate", _write(tmp_path, tiny)]) == 2
    assert "did you mean 'popularity'?" in capsys.readouterr().err


def test_a_list_override_past_the_end_is_explained(tiny, tmp_path, capsys):
    path = _write(tmp_path, tiny)  # no interventions
    assert main(["run", path, "--set", "interventions.0.lam=0.3", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --set: interventions.0.lam: interventions is empty, so this would add entry 0 without a type: set "
        "interventions.0.type as well (e.g. interventions.0.type=NAME), or add the entry to the scenario"
    )
    assert main(["run", path, "--set", "interventions.2.type=mmr", "--out", str(tmp_path / "r")]) == 2
    assert "past the end of interventions (length 0); a new entry goes at index 0" in capsys.readouterr().err
    args = ["--set", "interventions.0.type=mmr", "--set", "interventions.0.lam=0.3", "--steps", "2", "--quiet"]
    assert main(["run", path, *args, "--out", str(tmp_path / "ok")]) == 0  # with its type, it is added
    resolved = yaml.safe_load((tmp_path / "ok" / "scenario.yaml").read_text())
    assert resolved["interventions"][0]["type"] == "mmr" and resolved["interventions"][0]["lam"] == 0.3
