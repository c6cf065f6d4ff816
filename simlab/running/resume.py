"""``simlab run --resume RUN_DIR``: finish an interrupted run from its checkpoints.

The scenario comes from the run folder's scenario.yaml (resolved, defaults filled), so the
tasks, their ids and seeds are the ones of the interrupted run. Then, per task:

- status.json says "complete": skipped (its metrics.csv is final);
- tasks/<id>/checkpoint.pt exists: the Simulation is rebuilt from the scenario, its state
  loaded from the checkpoint (``torch.load(weights_only=True)``), the task's metrics.csv cut
  back to the rows streamed before that checkpoint, and the task steps on from there;
- otherwise (never started, or stopped before its first checkpoint): run from the start.

Every step is deterministic given the restored state and RNG streams, so the merged
metrics.csv is byte-identical to that of an uninterrupted run. The manifest is updated in
place (task statuses, a ``resumed`` entry with the time, backend and workers).

A run folder is not trusted, so before any work (each refusal one line, exit 2): the folder is
locked (a second writer is refused), a symbolic link anywhere in it is refused, manifest.json is
validated against its schema (:class:`Manifest`), scenario.yaml against the scenario schema and
the recorded config hash, every finished task's status against the task's own hash and step
count, and every recorded input (data files, plugin modules) against its content hash; the data
files are then read from their recorded absolute paths, whatever the current folder
(:mod:`simlab.running.inputs`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

import pydantic

from simlab import registry
from simlab.config import load_scenario
from simlab.core.errors import ScenarioError
from simlab.running import RunResult, atomic_write, make_tasks, run_tasks, task_dir
from simlab.running import inputs as pinned_inputs
from simlab.running.checkpoint import FILENAME as CHECKPOINT
from simlab.running.files import TEMPORARY, locked, open_inside, refuse_links
from simlab.running.tasks import Task, read_status
from simlab.society.datafiles import pinned_paths


class _Record(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", strict=True)


class TaskRecord(_Record):
    """One task's entry in the manifest's task list."""

    task: str
    status: Literal["pending", "running", "complete", "failed"]


class DataFileRecord(_Record):
    """A data file the run pinned: as named, its absolute path, SHA-256, size and the keys naming it."""

    given: str
    path: str
    sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = pydantic.Field(ge=0)
    keys: list[str]


class PluginRecord(_Record):
    """A plugin module the run imported, with its file and SHA-256 (None for a built-in module)."""

    module: str
    file: str | None
    sha256: str | None


class Inputs(_Record):
    """The run's pinned inputs (``inputs.json``): data files, the plugin search path and plugins."""

    files: list[DataFileRecord]
    plugin_path: list[str]
    plugins: list[PluginRecord]


class Manifest(_Record):
    """What --resume reads from manifest.json (other keys are kept as they are)."""

    config_hash: str = pydantic.Field(pattern=r"^[0-9a-f]{16}$")
    device: Literal["cpu", "cuda"]
    status: str
    tasks: list[TaskRecord]
    inputs: Inputs
    resumed: list[dict[str, Any]] = []
    timings: dict[str, float] = {}


_JSON_KINDS = {str: "a string", list: "a list", dict: "an object", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}  # fmt: skip


def _expected(error: Any) -> str:
    """What a pydantic error says was expected, in the words of simlab's other messages."""
    if error["type"] == "missing":
        return "a value"
    if error["type"] == "string_pattern_mismatch":
        return f"a string matching {error['ctx']['pattern']}"
    return str(error["msg"]).removeprefix("Input should be ")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """manifest.json of a run folder, checked against :class:`Manifest`; a damaged one is one
    line naming the key (ScenarioError), never a traceback later.
    """
    path = run_dir / "manifest.json"
    try:
        with open_inside(run_dir, "manifest.json") as handle:
            manifest = json.loads(handle.read())
    except FileNotFoundError:
        raise ScenarioError("expected a run folder with manifest.json, found none", file=str(run_dir)) from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read manifest.json: {exc}".splitlines()[0], file=str(path)) from None
    if not isinstance(manifest, dict):
        raise ScenarioError("manifest.json is not a simlab run manifest (not a JSON object)", file=str(path))
    try:
        Manifest.model_validate(manifest)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        expected = _expected(error)
        found = "nothing" if error["type"] == "missing" else _JSON_KINDS.get(type(error["input"]), "another value")
        raise ScenarioError(
            f"expected {expected}, found {found} (a damaged run folder: its manifest no longer says what the "
            "run was; start a new run)",
            file=str(path),
            key=".".join(str(part) for part in error["loc"]),
        ) from None
    return manifest


def resume(
    path: str | Path,
    *,
    workers: int | None = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    max_memory: int | str | None = None,
) -> RunResult:
    """Finish the run in folder ``path``; returns the same result as :func:`simlab.running.run`
    (with the same memory estimate and worker cap before any work).
    """
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise ScenarioError("expected a run folder, found none", file=str(run_dir))
    for name in ("scenario.yaml", "manifest.json"):
        if not (run_dir / name).is_file():
            raise ScenarioError(f"expected a run folder with {name}, found none", file=str(run_dir))
    with locked(run_dir):
        refuse_links(run_dir)
        manifest = read_manifest(run_dir)
        inputs = manifest["inputs"]
        pinned_inputs.check(inputs)
        with pinned_paths(pinned_inputs.pinned(inputs)):
            return _resume(run_dir, manifest, workers, backend, address, quiet, max_memory)


def _resume(
    run_dir: Path,
    manifest: dict[str, Any],
    workers: int | None,
    backend: str,
    address: str | None,
    quiet: bool,
    max_memory: int | str | None,
) -> RunResult:
    inputs = manifest["inputs"]
    registry.load_components((), inputs["plugin_path"])  # plugins are found where the run found them
    scenario_file = run_dir / "scenario.yaml"
    scenario = load_scenario(scenario_file)
    if manifest["config_hash"] != scenario.config_hash():
        raise ScenarioError(
            "scenario.yaml changed since the run started (its config hash differs)", file=str(scenario_file)
        )
    pinned_inputs.check_plugins(inputs, run_dir / "manifest.json")
    device = manifest["device"]
    if device == "cuda" and backend == "local":
        import torch

        if not torch.cuda.is_available():
            raise ScenarioError("the run used a CUDA device; found none", file=str(run_dir), key="device")
    tasks = make_tasks(scenario, run_dir, device, inputs["plugin_path"])
    recorded = [t["task"] for t in manifest["tasks"]]
    if recorded != [t.task_id for t in tasks]:
        raise ScenarioError(
            "the tasks of scenario.yaml do not match those in manifest.json (was the file edited?)",
            file=str(scenario_file),
        )
    pinned_inputs.check_tasks([t.scenario.to_dict() for t in tasks], inputs, scenario_file)
    for task in tasks:
        task.inputs = pinned_inputs.pinned(inputs)
        _check_finished(task, scenario.steps)
    from simlab.running.folder import check_address
    from simlab.running.resources import parse_size, plan

    if backend == "ray" and address:
        check_address(address)
    limit = parse_size(max_memory) if isinstance(max_memory, str) else max_memory
    workers, note = plan(scenario, workers, limit, backend)
    if note:
        print(note, file=sys.stderr)
    restart = [
        t.task_id
        for t in tasks
        if (read_status(t) or {}).get("status") != "complete" and not (task_dir(t) / CHECKPOINT).exists()
    ]
    if restart:
        kept = len(tasks) - len(restart)
        print(
            f"note: {len(restart)} unfinished task(s) have no checkpoint (output.checkpoint_every: "
            f"{scenario.output.checkpoint_every}) and restart from step 0; {kept} complete or checkpointed task(s) "
            "are kept",
            file=sys.stderr,
        )
    removed = remove_temporary_files(run_dir)
    if removed and not quiet:
        print(f"removed {removed} temporary file(s) left by the interrupted run")
    manifest.setdefault("resumed", []).append(
        {"at": dt.datetime.now().isoformat(timespec="seconds"), "backend": backend, "workers": workers}
    )
    manifest["status"] = "running"
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
    return run_tasks(run_dir, scenario, tasks, manifest, workers=workers, backend=backend, address=address, quiet=quiet)


def _check_finished(task: Task, steps: int) -> None:
    """A task whose status.json says "complete" is kept as it is, so it must be what this run
    would compute: the same task scenario (its hash), all ``steps`` steps, and a metrics.csv that
    is a plain file of the folder. Anything else is a folder that was edited: refused.
    """
    status = read_status(task)
    if status is None or status.get("status") != "complete":
        return
    where = str(Path(task.run_dir) / "tasks" / task.task_id / "status.json")
    if status.get("config_hash") != task.config_hash():
        raise ScenarioError(
            "this task finished under another scenario (its config hash differs or is missing); "
            "the run folder was edited, start a new run",
            file=where,
        )
    if status.get("steps") != steps:
        raise ScenarioError(
            f"this task finished after {status.get('steps')!r} steps, the run has {steps}; the run folder was edited",
            file=where,
        )
    try:
        open_inside(Path(task.run_dir), f"tasks/{task.task_id}/metrics.csv").close()
    except FileNotFoundError:
        raise ScenarioError("a finished task without its metrics.csv (a damaged run folder)", file=where) from None


def remove_temporary_files(run_dir: Path) -> int:
    """Delete the temporary files a killed run left in its folder; returns how many. Folders that
    are links are not entered (the caller refused them already).
    """
    removed = 0
    folders = [run_dir, run_dir / "snapshots", run_dir / "figures"]
    if (run_dir / "tasks").is_dir() and not (run_dir / "tasks").is_symlink():
        folders += sorted(p for p in (run_dir / "tasks").iterdir() if not p.is_symlink())
    for folder in folders:
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in os.scandir(folder):
            if TEMPORARY.match(entry.name) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
    return removed
