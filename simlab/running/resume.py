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
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

from simlab.config import load_scenario
from simlab.core.errors import ScenarioError
from simlab.running import RunResult, atomic_write, make_tasks, run_tasks


def resume(
    path: str | Path,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    max_memory: int | str | None = None,
) -> RunResult:
    """Finish the run in folder ``path``; returns the same result as :func:`simlab.running.run`
    (with the same memory estimate and worker cap before any work)."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise ScenarioError("expected a run folder, found none", file=str(run_dir))
    for name in ("scenario.yaml", "manifest.json"):
        if not (run_dir / name).is_file():
            raise ScenarioError(f"expected a run folder with {name}, found none", file=str(run_dir))
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read manifest.json: {exc}", file=str(run_dir / "manifest.json")) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tasks"), list):
        raise ScenarioError("manifest.json is not a simlab run manifest", file=str(run_dir / "manifest.json"))
    if not all(isinstance(t, dict) for t in manifest["tasks"]):
        raise ScenarioError(
            "expected manifest.json tasks to be objects with a task id, found other values (damaged run folder)",
            file=str(run_dir / "manifest.json"),
            key="tasks",
        )
    scenario = load_scenario(run_dir / "scenario.yaml")
    device = manifest.get("device") or scenario.resolved_device()
    if device == "cuda" and backend == "local":
        import torch

        if not torch.cuda.is_available():
            raise ScenarioError("the run used a CUDA device; found none", file=str(run_dir), key="device")
    tasks = make_tasks(scenario, run_dir, device)
    recorded = [t.get("task") for t in manifest["tasks"]]
    if recorded != [t.task_id for t in tasks]:
        raise ScenarioError(
            "the tasks of scenario.yaml do not match those in manifest.json (was the file edited?)",
            file=str(run_dir / "scenario.yaml"),
        )
    if manifest.get("config_hash") not in (None, scenario.config_hash()):
        raise ScenarioError("scenario.yaml changed since the run started", file=str(run_dir / "scenario.yaml"))
    from simlab.running.folder import check_address
    from simlab.running.resources import parse_size, plan

    if backend == "ray" and address:
        check_address(address)
    limit = parse_size(max_memory) if isinstance(max_memory, str) else max_memory
    workers, note = plan(scenario, workers, limit, backend)
    if note:
        print(note, file=sys.stderr)
    removed = remove_temporary_files(run_dir)
    if removed and not quiet:
        print(f"removed {removed} temporary file(s) left by the interrupted run")
    manifest.setdefault("resumed", []).append(
        {"at": dt.datetime.now().isoformat(timespec="seconds"), "backend": backend, "workers": workers}
    )
    manifest["status"] = "running"
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
    return run_tasks(run_dir, scenario, tasks, manifest, workers=workers, backend=backend, address=address, quiet=quiet)


# atomic writes go through ".<name>.tmp<pid>" (files.atomic_write, checkpoint.save) and snapshots
# through ".<stem>.tmp<pid>.npz": a kill between the write and the rename leaves one behind
_TEMPORARY = re.compile(r"^\..+\.tmp[0-9]+(\.npz)?$")


def remove_temporary_files(run_dir: Path) -> int:
    """Delete the temporary files a killed run left in its folder; returns how many."""
    removed = 0
    for folder in [run_dir, run_dir / "snapshots", *sorted((run_dir / "tasks").glob("*"))]:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _TEMPORARY.match(path.name):
                path.unlink()
                removed += 1
    return removed
