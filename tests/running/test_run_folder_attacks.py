"""Attacks on the run folder and the run's inputs (issue 27): planted links, two writers at once,
inputs moved or changed before a resume, damaged manifests, a full disk. Each refusal is one line
(exit 2 for a folder or input that is not what it should be, exit 1 for an output that could not
be written), nothing outside the run folder ever changes, and a later command recovers."""

from __future__ import annotations

import copy
import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from simlab.cli import main
from simlab.core.errors import OutputError, ScenarioError
from simlab.running import merge_metrics
from simlab.running.files import LOCK_FILE, TEMPORARY, atomic_write, ensure_folder, locked, open_inside

PRECIOUS = b"a file outside the run folder\n"
PNG_END = b"IEND\xaeB`\x82"


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def _outside(tmp_path: Path, content: bytes = PRECIOUS) -> Path:
    path = tmp_path / "outside.txt"
    path.write_bytes(content)
    return path


def _temporary_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if TEMPORARY.match(p.name)]


@pytest.fixture
def finished(tiny, tmp_path, capsys, monkeypatch):
    """A finished tiny run (2 tasks, checkpoints every 2 steps) in tmp_path/run."""
    monkeypatch.chdir(tmp_path)
    doc = tiny | {"output": tiny["output"] | {"checkpoint_every": 2}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(doc))
    assert main(["run", "tiny.yaml", "--out", "run", "--quiet"]) == 0
    capsys.readouterr()
    return tmp_path / "run"


def _interrupt(run: Path, task: str = "0001_base_r1") -> Path:
    """Make a finished run look killed in the middle of ``task``."""
    folder = run / "tasks" / task
    status = json.loads((folder / "status.json").read_text())
    (folder / "status.json").write_text(json.dumps(status | {"status": "running"}))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["status"] = "running"
    for entry in manifest["tasks"]:
        if entry["task"] == task:
            entry["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(manifest))
    for name in ("metrics.csv", "summary.csv"):
        (run / name).unlink(missing_ok=True)
    return folder


# ---------------------------------------------------------------------------- links


@pytest.mark.parametrize(("command", "name"), [("report", "report.html"), ("plot", "figures/opinion_final.png")])
def test_plot_and_report_refuse_a_planted_link(finished, tmp_path, capsys, command, name):
    target = _outside(tmp_path)
    (finished / "figures").mkdir(exist_ok=True)
    (finished / name).symlink_to(target)
    assert main([command, str(finished)]) == 2
    line = _one_line(capsys)
    assert "symbolic link" in line and name in line
    assert target.read_bytes() == PRECIOUS


def test_a_figures_folder_that_links_outside_gets_nothing(finished, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (finished / "figures").symlink_to(elsewhere)
    assert main(["plot", str(finished)]) == 2
    assert "figures: found a symbolic link" in _one_line(capsys)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("planted", ["pending stream", "finished stream", "task folder"])
def test_resume_refuses_planted_links_and_changes_nothing_outside(finished, tmp_path, capsys, planted):
    """A pending task's metrics.csv linked to a file outside (resume once truncated and appended
    to it), a finished task's metrics.csv linked to one (once merged into the run's metrics), a
    task folder linked to a folder outside (resume once deleted temp-named files in it)."""
    _interrupt(finished)
    header = (finished / "tasks" / "0000_base_r0" / "metrics.csv").read_bytes().splitlines()[0]
    target = _outside(tmp_path, header + b"\nSECRET,0,0\n")
    before = target.read_bytes()
    elsewhere = tmp_path / "elsewhere"
    if planted == "task folder":
        shutil.move(finished / "tasks" / "0001_base_r1", elsewhere)
        (elsewhere / ".precious.tmp1").write_bytes(PRECIOUS)
        (finished / "tasks" / "0001_base_r1").symlink_to(elsewhere)
    else:
        task = "0001_base_r1" if planted == "pending stream" else "0000_base_r0"
        (finished / "tasks" / task / "metrics.csv").unlink()
        (finished / "tasks" / task / "metrics.csv").symlink_to(target)
    assert main(["run", "--resume", str(finished), "--quiet"]) == 2
    assert "found a symbolic link in the run folder" in _one_line(capsys)
    assert target.read_bytes() == before
    assert not (finished / "metrics.csv").exists()
    if planted == "task folder":
        assert (elsewhere / ".precious.tmp1").read_bytes() == PRECIOUS


def test_writes_replace_a_link_instead_of_following_it(tmp_path):
    """Below the command-line checks: every write renames a new file over the name."""
    target = _outside(tmp_path)
    link = tmp_path / "report.html"
    link.symlink_to(target)
    atomic_write(link, "<html></html>")
    assert not link.is_symlink() and link.read_text() == "<html></html>"
    assert target.read_bytes() == PRECIOUS
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "figures").symlink_to(tmp_path)
    with pytest.raises(ScenarioError, match="expected a folder, found a symbolic link"):
        ensure_folder(tmp_path / "run", "figures")
    assert ensure_folder(tmp_path / "run", "tasks", "0000") == tmp_path / "run" / "tasks" / "0000"


def test_a_merge_reads_no_link_and_no_file_with_another_name(finished, tmp_path):
    """merge_metrics itself, without resume's checks: a stream that is a symbolic link, or a
    hard link (a second name: it may be a file outside the folder), is refused."""
    stream = finished / "tasks" / "0000_base_r0" / "metrics.csv"
    tasks = ["0000_base_r0", "0001_base_r1"]
    os.link(stream, tmp_path / "second_name.csv")
    with pytest.raises(ScenarioError, match="a file with 2 names"):
        merge_metrics(finished, tasks, parquet=False)
    (tmp_path / "second_name.csv").unlink()
    shutil.move(stream, tmp_path / "moved.csv")
    stream.symlink_to(tmp_path / "moved.csv")
    with pytest.raises(ScenarioError, match="found a symbolic link"):
        merge_metrics(finished, tasks, parquet=False)
    with pytest.raises(ScenarioError, match="found a symbolic link"):
        open_inside(finished, "tasks/0000_base_r0/metrics.csv")


# ---------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_while_the_folder_is_locked(finished, capsys):
    with locked(finished):
        for argv in (["plot", str(finished)], ["report", str(finished)], ["run", "--resume", str(finished)]):
            assert main(argv) == 2
            line = _one_line(capsys)
            assert line == (
                f"error: {finished}: another simlab process is writing this run folder (run, --resume, plot or "
                "report); wait for it to end, then try again"
            )
    assert main(["report", str(finished)]) == 0  # the lock went with the block


def test_a_new_run_into_a_locked_folder_is_refused(tiny, tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny))
    folder = tmp_path / "run"
    folder.mkdir()
    with locked(folder):
        assert main(["run", str(tmp_path / "s.yaml"), "--out", str(folder), "--quiet"]) == 2
        assert "another simlab process is writing this run folder" in _one_line(capsys)
    assert [p.name for p in folder.iterdir()] == [LOCK_FILE]
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(folder), "--quiet"]) == 0  # the lock file aside, empty


def _held(lock: Path) -> bool:
    """Whether another process holds the run folder's lock now."""
    if not lock.exists():
        return False
    with open(lock, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


@pytest.mark.slow
def test_two_concurrent_resumes_make_one_correct_run_and_one_refusal(tiny, tmp_path):
    doc = tiny | {"steps": 30, "output": tiny["output"] | {"checkpoint_every": 5}}
    doc["population"] = doc["population"] | {"size": 400}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    command = [sys.executable, "-m", "simlab", "run"]
    subprocess.run([*command, str(tmp_path / "s.yaml"), "--out", str(tmp_path / "ref"), "--quiet"], check=True)
    shutil.copytree(tmp_path / "ref", tmp_path / "run")
    _interrupt(tmp_path / "run", "0000_base_r0")
    _interrupt(tmp_path / "run", "0001_base_r1")
    resume = [*command, "--resume", str(tmp_path / "run"), "--quiet"]
    first = subprocess.Popen(resume, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _held(tmp_path / "run" / LOCK_FILE) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.poll() is None, first.communicate()  # still working, holding the folder
    second = subprocess.run(resume, capture_output=True, text=True)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'run'}: another simlab process is writing this run folder (run, --resume, plot or "
        "report); wait for it to end, then try again"
    ]
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (tmp_path / "ref" / "metrics.csv").read_bytes()


# ---------------------------------------------------------------------------- pinned inputs


def _population_file(path: Path, seed: int, n: int = 60) -> None:
    values = [round(((i * 7919 + seed * 104729) % 2000) / 1000 - 1, 3) for i in range(n)]
    path.write_text("\n".join(map(str, values)) + "\n")


@pytest.fixture
def file_run(tiny, tmp_path, monkeypatch, capsys):
    """A finished run whose population file is named relative to the folder it started in
    (tmp_path/a), and an interrupted copy of it."""
    (tmp_path / "a").mkdir()
    _population_file(tmp_path / "a" / "pop.csv", seed=1)
    doc = copy.deepcopy(tiny)
    doc["population"] = {"type": "file", "path": "pop.csv", "activity": 0.8}
    (tmp_path / "a" / "s.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path / "a")
    assert main(["run", "s.yaml", "--out", str(tmp_path / "ref"), "--quiet"]) == 0
    shutil.copytree(tmp_path / "ref", tmp_path / "run")
    _interrupt(tmp_path / "run")
    capsys.readouterr()
    return tmp_path / "ref", tmp_path / "run"


def test_resume_from_another_folder_reads_the_recorded_data_file(file_run, tmp_path, monkeypatch):
    reference, run = file_run
    (tmp_path / "b").mkdir()
    _population_file(tmp_path / "b" / "pop.csv", seed=2)  # the same name, other opinions
    monkeypatch.chdir(tmp_path / "b")
    assert main(["run", "--resume", str(run), "--quiet"]) == 0
    assert (run / "metrics.csv").read_bytes() == (reference / "metrics.csv").read_bytes()
    [entry] = json.loads((run / "manifest.json").read_text())["inputs"]["files"]
    assert entry["given"] == "pop.csv" and entry["path"] == str(tmp_path / "a" / "pop.csv")
    assert entry["keys"] == ["population.path"] and len(entry["sha256"]) == 64


@pytest.mark.parametrize("change", ["replaced", "removed"])
def test_resume_refuses_a_data_file_that_changed(file_run, tmp_path, capsys, change):
    _, run = file_run
    pop = tmp_path / "a" / "pop.csv"
    if change == "replaced":
        _population_file(pop, seed=3)
    else:
        pop.unlink()
    assert main(["run", "--resume", str(run), "--quiet"]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"error: {pop}: population.path: ")
    assert ("changed since the run started" if change == "replaced" else "it is missing now") in line
    assert not (run / "metrics.csv").exists()


PLUGIN = """
from simlab.registry import METRICS


@METRICS.register("_attack_constant")
class Constant:
    def __init__(self, settings=None):
        pass

    def compute(self, context):
        return {value}
"""


@pytest.mark.slow
def test_resume_from_another_folder_finds_the_plugin_beside_the_scenario(tiny, tmp_path):
    (tmp_path / "scenario").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "scenario" / "simlab_attack_plugin.py").write_text(PLUGIN.format(value=1.0))
    (tmp_path / "scenario" / "s.yaml").write_text(yaml.safe_dump(tiny | {"plugins": ["simlab_attack_plugin"]}))
    command = [sys.executable, "-m", "simlab", "run"]
    subprocess.run(
        [*command, "s.yaml", "--out", str(tmp_path / "ref"), "--quiet"], cwd=tmp_path / "scenario", check=True
    )
    shutil.copytree(tmp_path / "ref", tmp_path / "run")
    _interrupt(tmp_path / "run")
    resume = [*command, "--resume", str(tmp_path / "run"), "--quiet"]
    done = subprocess.run(resume, cwd=tmp_path / "elsewhere", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (tmp_path / "ref" / "metrics.csv").read_bytes()
    # a plugin edited since the run started is refused: other code would mix two runs
    _interrupt(tmp_path / "run")
    (tmp_path / "scenario" / "simlab_attack_plugin.py").write_text(PLUGIN.format(value=2.0))
    done = subprocess.run(resume, cwd=tmp_path / "elsewhere", capture_output=True, text=True)
    assert done.returncode == 2
    assert "plugin module 'simlab_attack_plugin'" in done.stderr and "changed since the run started" in done.stderr


@pytest.mark.parametrize("forged", [False, True])
def test_resume_refuses_a_scenario_edited_after_some_tasks_finished(finished, capsys, forged):
    """steps edited in scenario.yaml, and the manifest's config hash deleted (once accepted: final
    steps 3 and 2 in one run) or forged to match the edited scenario (the finished task's own
    hash in status.json still tells)."""
    from simlab.config import load_scenario

    _interrupt(finished)
    scenario = yaml.safe_load((finished / "scenario.yaml").read_text())
    (finished / "scenario.yaml").write_text(yaml.safe_dump(scenario | {"steps": 3}, sort_keys=False))
    manifest = json.loads((finished / "manifest.json").read_text())
    if forged:
        manifest["config_hash"] = load_scenario(finished / "scenario.yaml").config_hash()
    else:
        del manifest["config_hash"]
    (finished / "manifest.json").write_text(json.dumps(manifest))
    assert main(["run", "--resume", str(finished), "--quiet"]) == 2
    line = _one_line(capsys)
    if forged:
        assert "tasks/0000_base_r0/status.json: this task finished under another scenario" in line
    else:
        assert "manifest.json: config_hash: expected a value, found nothing" in line
    assert not (finished / "metrics.csv").exists()


@pytest.mark.parametrize(
    ("damage", "key", "found"),
    [
        ({"resumed": "yesterday"}, "resumed", "a string"),
        ({"timings": [1, 2]}, "timings", "a list"),
        ({"tasks": [{"task": "0000_base_r0", "status": 7}]}, "tasks.0.status", "a number"),
        ({"inputs": None}, "inputs", "null"),
        ({"config_hash": "not a hash"}, "config_hash", "a string"),
        ({"device": 3}, "device", "a number"),
    ],
)
def test_a_damaged_manifest_is_one_line_naming_its_key(finished, capsys, damage, key, found):
    _interrupt(finished)
    manifest = json.loads((finished / "manifest.json").read_text())
    (finished / "manifest.json").write_text(json.dumps(manifest | damage))
    assert main(["run", "--resume", str(finished), "--quiet"]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"error: {finished / 'manifest.json'}: {key}: expected ") and f"found {found}" in line


@pytest.mark.parametrize("content", [b"[1, 2]", b"{not json", b"\xff\xfe"])
def test_a_manifest_that_is_not_one(finished, capsys, content):
    (finished / "manifest.json").write_bytes(content)
    assert main(["run", "--resume", str(finished), "--quiet"]) == 2
    assert "manifest.json" in _one_line(capsys)


def _damaged(key: str, value: object):
    return lambda document: document | {key: value}


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("manifest.json", b"[1, 2]", "expected a JSON object"),
        ("manifest.json", b"{not json", "expected a JSON object"),
        ("manifest.json", b"\xff\xfe", "expected a JSON object"),
        ("manifest.json", _damaged("timings", 5), "timings: expected an object, found a number"),
        ("manifest.json", _damaged("tasks", 5), "tasks: expected a list, found a number"),
        ("manifest.json", _damaged("resumed", "yes"), "resumed: expected a list, found a string"),
        ("scenario.yaml", b"- a list\n", "expected a YAML mapping"),
        ("scenario.yaml", b"a: [", "invalid YAML"),
        ("scenario.yaml", _damaged("sweep_baseline", [1, 2]), "sweep_baseline: expected a mapping, found a list"),
        ("scenario.yaml", _damaged("variants", [1, 2]), "variants: expected a mapping, found a list"),
        ("scenario.yaml", _damaged("sweep", {"seed": 5}), "sweep.seed: expected a list, found a number"),
    ],
)
def test_plot_and_report_of_a_damaged_run_folder_are_one_line(finished, capsys, name, damage, says):
    """The manifest and scenario that the figures and the report read: damaged (not a document,
    or a key they read of the wrong kind), each is one line naming the file and the key."""
    path = finished / name
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    elif name.endswith(".json"):
        path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    else:
        path.write_text(yaml.safe_dump(damage(yaml.safe_load(path.read_text()))))
    for command in ("plot", "report"):
        assert main([command, str(finished)]) == 2
        line = _one_line(capsys)
        assert line.startswith(f"error: {path}") and says in line, line
    assert not (finished / "report.html").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'garbage,"x\n', "ParserError"),
        (b"a,b\n1,2\n", "no column variant"),
        (b"variant,metric,final_mean,ci_low,ci_high,diff_vs_first,diff_ci_low,diff_ci_high,replicates\n"
         b"base,x,abc,1,1,0,0,0,2\n", "text in the number column final_mean"),
    ],
)  # fmt: skip
def test_report_of_a_damaged_summary_is_one_line_and_resume_writes_it_again(finished, capsys, content, says):
    (finished / "summary.csv").write_bytes(content)
    assert main(["report", str(finished)]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"error: {finished / 'summary.csv'}: not a simlab summary table") and says in line
    assert main(["run", "--resume", str(finished), "--quiet"]) == 0
    assert main(["report", str(finished)]) == 0
    assert (finished / "report.html").read_text().count("<table") > 1


# ---------------------------------------------------------------------------- a full disk


def _disk_full_after(monkeypatch, writes: int) -> None:
    """From the ``writes + 1``-th fsync on, the disk is full (ENOSPC), as on a file system that
    allocates blocks at write-back."""
    real, calls = os.fsync, [0]

    def fsync(fd: int) -> None:
        calls[0] += 1
        if calls[0] > writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_plot_and_report_on_a_full_disk_leave_no_partial_file_and_recover(finished, capsys, monkeypatch):
    with monkeypatch.context() as patch:
        _disk_full_after(patch, writes=2)
        assert main(["plot", str(finished)]) == 1
        line = _one_line(capsys)
        assert line.startswith(f"error: {finished / 'figures'}/") and line.endswith(
            ": cannot write: No space left on device; no partial file was left"
        )
        written = sorted((finished / "figures").iterdir())
        assert len(written) == 2 and all(p.read_bytes().endswith(PNG_END) for p in written)
        (finished / "report.html").write_text("the previous report")
        _disk_full_after(patch, writes=0)
        assert main(["report", str(finished)]) == 1
        assert "report.html: cannot write: No space left on device" in _one_line(capsys)
        assert (finished / "report.html").read_text() == "the previous report"
    assert _temporary_files(finished) == []
    assert main(["plot", str(finished)]) == 0 and main(["report", str(finished)]) == 0
    figures = sorted((finished / "figures").iterdir())
    assert len(figures) > 2 and all(p.read_bytes().endswith(PNG_END) for p in figures)
    assert (finished / "report.html").read_text().startswith("<!doctype html>")


def test_a_run_on_a_full_disk_is_one_line_and_resume_finishes_it(tiny, tmp_path, capsys, monkeypatch):
    doc = tiny | {"output": tiny["output"] | {"checkpoint_every": 2, "parquet": True}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "ref"), "--quiet"]) == 0
    with monkeypatch.context() as patch:
        _disk_full_after(patch, writes=8)
        assert main(["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "run"), "--quiet"]) == 1
        assert "cannot write: No space left on device; no partial file was left" in _one_line(capsys)
    assert _temporary_files(tmp_path / "run") == []
    assert main(["run", "--resume", str(tmp_path / "run"), "--quiet"]) == 0
    for name in ("metrics.csv", "summary.csv", "metrics.parquet"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_an_output_error_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "summary.csv"
    path.write_text("old")
    _disk_full_after(monkeypatch, writes=0)
    with pytest.raises(OutputError, match=r"summary\.csv: cannot write: No space left on device"):
        atomic_write(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


TMPFS_SCRIPT = """
set -e
mount -t tmpfs -o size=16m tmpfs "$1"
cp -r "$2" "$1/run"
dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true
set +e
"$3" -m simlab plot "$1/run" 2> "$4/plot.err"; echo $? > "$4/plot.code"
"$3" -m simlab report "$1/run" 2> "$4/report.err"; echo $? > "$4/report.code"
find "$1/run" -name '.*tmp*' | wc -l > "$4/temporary"
find "$1/run" -type f -size 0 -not -name .simlab.lock | wc -l > "$4/empty"
rm "$1/filler"
"$3" -m simlab plot "$1/run" > /dev/null 2>&1; echo $? > "$4/plot_again.code"
"$3" -m simlab report "$1/run" > /dev/null 2>&1; echo $? > "$4/report_again.code"
ls "$1/run/figures" | wc -l > "$4/figures"
"""


def _tmpfs_allowed(folder: Path) -> bool:
    """Whether this machine lets the suite mount a tmpfs in a private mount namespace."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {folder}"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.slow
def test_plot_and_report_on_a_real_full_tmpfs(finished, tmp_path, capsys, monkeypatch):
    """A real full disk where the machine allows a private tmpfs (root, or user namespaces);
    elsewhere the same commands with ENOSPC from the write path (as in the fast tests)."""
    mount = tmp_path / "mount"
    mount.mkdir()
    if not _tmpfs_allowed(mount):
        _disk_full_after(monkeypatch, writes=0)
        assert main(["plot", str(finished)]) == 1 and main(["report", str(finished)]) == 1
        assert _temporary_files(finished) == [] and not (finished / "report.html").exists()
        monkeypatch.undo()
        assert main(["plot", str(finished)]) == 0 and main(["report", str(finished)]) == 0
        return
    results = tmp_path / "results"
    results.mkdir()
    subprocess.run(
        ["unshare", "-m", "sh", "-c", TMPFS_SCRIPT, "sh", str(mount), str(finished), sys.executable, str(results)],
        check=True,
    )
    read = {p.name: p.read_text().strip() for p in results.iterdir()}
    for command in ("plot", "report"):
        assert read[f"{command}.code"] == "1", read
        [line] = read[f"{command}.err"].splitlines()
        assert line.startswith("error: ") and "No space left on device; no partial file was left" in line
        assert read[f"{command}_again.code"] == "0"
    assert read["temporary"] == "0" and read["empty"] == "0"
    assert int(read["figures"]) > 2
