"""One task: a replicate of one variant (or sweep point), run to completion with streamed
metrics, checkpoints and snapshots; a task that finds its checkpoint continues from it.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import json
import math
import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simlab.config import Scenario
from simlab.config.validation import plugin_search_path
from simlab.core.errors import OutputError
from simlab.running import checkpoint as checkpoints
from simlab.running.files import atomic_file, atomic_write, ensure_folder, open_inside, open_stream, safe_name
from simlab.running.summary import ID_COLUMNS
from simlab.society.datafiles import pinned_paths

TOKEN_FILE = ".simlab-run-token"
# OS errors that mean the disk, not the task: a full disk or quota, a file too large, a read-only
# or failing file system
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
Reporter = Callable[[str, str, int], None]


@dataclass
class Task:
    """One replicate of one variant (or sweep point); ``scenario`` is that point's scenario,
    validated once when the run's scenario was loaded.
    """

    task_id: str
    label: str
    replicate: int
    scenario: Scenario
    device: str
    run_dir: str
    search_path: list[str] = dataclasses.field(default_factory=list)  # where plugin modules were found
    variant: str = ""  # the variant's name (metrics.csv `variant`; the label also names the sweep point)
    sweep: dict[str, Any] = dataclasses.field(default_factory=dict)  # swept key -> value at this point
    # each data file as named in the scenario -> the absolute path pinned at the run's start
    # (simlab.running.inputs): a task reads what the run read, whatever the current folder
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)

    def config_hash(self) -> str:
        """The hash of the task's scenario document, which a checkpoint and a finished task's
        status.json record (``--resume`` compares them).
        """
        return checkpoints.task_hash(self.scenario.hash_document())

    def __reduce__(self) -> tuple[Callable[..., Task], tuple[dict[str, Any], bytes]]:
        """Pickled for a worker process as the other fields and the scenario's own pickle, which
        is read only once the plugin folders are on the worker's ``sys.path`` (its settings
        models may be a plugin's classes): the validated models travel, not a document.
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "scenario"}
        return _unpickle_task, (fields, pickle.dumps(self.scenario))


def _unpickle_task(fields: dict[str, Any], scenario: bytes) -> Task:
    """A :class:`Task` in a worker process (see ``Task.__reduce__``)."""
    for search in fields["search_path"]:  # a worker process finds the scenario's plugins too
        if search not in sys.path:
            sys.path.append(search)
    return Task(scenario=pickle.loads(scenario), **fields)


def make_tasks(scenario: Scenario, run_dir: Path, device: str, search: list[str] | None = None) -> list[Task]:
    """The run's tasks, in order; ``search``: the folders where plugin modules are looked up (default: the
    current folder and the scenario file's folder).
    """
    points = scenario.task_points()
    if search is None:
        search = plugin_search_path(scenario.source) if scenario.plugins else []
    width = max(4, len(str(len(points) * scenario.replicates - 1)))
    tasks: list[Task] = []
    for point in points:
        for replicate in range(scenario.replicates):
            task_id = f"{len(tasks):0{width}d}_{safe_name(point.label)}_r{replicate}"
            tasks.append(
                Task(
                    task_id,
                    point.label,
                    replicate,
                    point.scenario,
                    device,
                    str(run_dir),
                    search,
                    point.variant,
                    point.sweep,
                )
            )
    return tasks


def sweep_text(value: Any) -> str:
    """A swept value as metrics.csv writes it: as written in the YAML (true/false for booleans,
    JSON for lists and mappings, numbers in their shortest exact form).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def task_dir(task: Task) -> Path:
    """The task's folder, ``<run>/tasks/<task id>/``."""
    return Path(task.run_dir) / "tasks" / task.task_id


def read_status(task: Task) -> dict[str, Any] | None:
    """The task's status.json, or None when there is none or it is not usable (damaged, a link):
    the task is then run again and the file replaced.
    """
    from simlab.core.errors import ScenarioError

    try:
        with open_inside(Path(task.run_dir), f"tasks/{task.task_id}/status.json") as handle:
            status = json.loads(handle.read())
    except (OSError, ValueError, ScenarioError):
        return None
    return status if isinstance(status, dict) else None


# ---------------------------------------------------------------------------- one task


def task_threads() -> int:
    """Torch intra-op threads per task (env SIMLAB_TASK_THREADS, default 1).

    One thread per task keeps CPU results independent of the backend and of the number of
    workers (a parallel reduction's order depends on the thread count); raise it only when
    running few large tasks and bitwise equality across backends does not matter.
    """
    try:
        return max(1, int(os.environ.get("SIMLAB_TASK_THREADS", "1")))
    except ValueError:
        return 1


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute_task(task: Task, progress: Reporter | None = None) -> dict[str, Any]:
    """Run one task to completion, streaming metrics and checkpoints; returns its status record.

    A task whose status.json says "complete" is not run again. A task with a checkpoint
    continues from it. Errors are caught and recorded, so one failing task does not lose the
    others. ``progress(event, task_id, value)`` receives ("start", id, first step) and
    ("step", id, n) events.
    """
    from simlab.loop.simulation import Simulation

    report = progress or _no_report
    folder = task_dir(task)
    previous = read_status(task)
    if previous is not None and previous.get("status") == "complete":
        return previous
    started = time.perf_counter()
    ensure_folder(Path(task.run_dir), "tasks", task.task_id)
    status: dict[str, Any] = {
        "task": task.task_id,
        "variant": task.label,
        "replicate": task.replicate,
        "config_hash": task.config_hash(),  # what --resume checks a finished task against
    }
    atomic_write(folder / "status.json", json.dumps({**status, "status": "running"}, indent=1))
    sim = None
    try:
        with _torch_threads(task_threads()), pinned_paths(task.inputs):
            for search in task.search_path:  # a worker process finds the scenario's plugins too
                if search not in sys.path:
                    sys.path.append(search)
            scenario = task.scenario
            sim, restored, notes = _restore(Simulation, scenario, task, folder)
            notes.update(_run_simulation(sim, scenario, task, folder, report, restored))
        status.update(status="complete", steps=sim.t, **notes)
    except Exception as exc:  # recorded in the manifest; the other tasks go on
        # ... unless the disk, not the task, failed (full, read-only): then the run stops with one
        # line, and --resume finishes it once there is room
        if isinstance(exc, OutputError):
            raise
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:  # a row of the metrics stream
            raise OutputError(exc.filename or folder / "metrics.csv", exc.strerror or str(exc)) from None
        status.update(
            status="failed",
            error=_describe_error(exc, sim),
            steps=None if sim is None else sim.t,
            traceback=traceback.format_exc(),
        )
    status["seconds"] = round(time.perf_counter() - started, 3)
    del sim  # free the task's state now, so memory does not grow with the number of tasks
    atomic_write(folder / "status.json", json.dumps(status, indent=1))
    if status["status"] == "complete":
        with contextlib.suppress(FileNotFoundError):
            (folder / checkpoints.FILENAME).unlink()  # the finished stream supersedes it
    return status


def _no_report(event: str, task_id: str, value: int) -> None:
    pass


def _describe_error(exc: BaseException, sim: Any) -> str:
    """One line naming the step and, where it is not already said, the code that failed."""
    from simlab.core.errors import SimulationError

    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if isinstance(exc, SimulationError):  # already names the step and the component
        return text
    package = Path(__file__).resolve().parent
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if package in path.parents and path.name not in ("engine.py", "runner.py", "checkpoint.py"):
            where = f"{path.relative_to(package.parent)}:{frame.lineno} in {frame.name}"
    prefix = "setup" if sim is None else f"step {sim.t}"
    return f"{prefix}: {text}" + (f" ({where})" if where else "")


def _format_row(task: Task, step: int, row: dict[str, float], names: list[str]) -> list[Any]:
    """One metrics.csv row: variant, replicate, step, the swept values, then the metrics
    (floats as repr, which round-trips exactly; NaN as an empty cell).
    """
    values = []
    for name in names:
        value = float(row[name])
        values.append("" if math.isnan(value) else repr(value))
    point = [sweep_text(v) for v in task.sweep.values()]
    return [task.variant or task.label, task.replicate, step, *point, *values]


def _restore(
    simulation: type, scenario: Scenario, task: Task, folder: Path
) -> tuple[Any, tuple[int, int] | None, dict[str, Any]]:
    """A Simulation for the task: from its checkpoint when there is a usable one (returning
    the metric rows and bytes to keep), else fresh. A checkpoint that cannot be used (another
    scenario, unreadable) is ignored and noted: starting over gives the same numbers, later.
    """
    sim = simulation(scenario, task.replicate, task.device)
    path = folder / checkpoints.FILENAME
    if not path.exists():
        return sim, None, {}
    metrics_path = folder / "metrics.csv"
    try:
        payload = checkpoints.load(path, task=task.task_id, config_hash=task.config_hash())
        size = os.lstat(metrics_path).st_size if metrics_path.exists() else -1
        if size < payload["metric_bytes"]:
            raise checkpoints.CheckpointError(f"{metrics_path} is shorter than its checkpoint says")
        sim.load_state_dict(payload["state"])
    except checkpoints.CheckpointError as exc:
        return simulation(scenario, task.replicate, task.device), None, {"checkpoint_ignored": str(exc)}
    return sim, (int(payload["metric_rows"]), int(payload["metric_bytes"])), {"resumed_from_step": sim.t}


def _run_simulation(
    sim: Any, scenario: Scenario, task: Task, folder: Path, report: Reporter, restored: tuple[int, int] | None
) -> dict[str, Any]:
    """Step to the end, streaming rows to metrics.csv and writing checkpoints."""
    steps = scenario.steps
    snapshot_every = scenario.output.snapshot_every
    checkpoint_every = scenario.output.checkpoint_every
    checkpoint_path = folder / checkpoints.FILENAME
    config_hash = task.config_hash()
    rows, keep = restored if restored is not None else (0, 0)
    names = sim.recorder.names
    # rows written after the checkpoint are not kept: they are recomputed, identically
    stream = open_stream(Path(task.run_dir), f"tasks/{task.task_id}/metrics.csv", keep)
    with io.TextIOWrapper(stream, encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if restored is None:
            writer.writerow([*ID_COLUMNS, *task.sweep, *names])
            fh.flush()
        report("start", task.task_id, sim.t)
        while sim.t < steps:
            if snapshot_every and sim.t % snapshot_every == 0:
                _save_snapshot(sim, task)
            row = sim.step()
            if row is not None:
                writer.writerow(_format_row(task, sim.t - 1, row, names))
                rows += 1
                fh.flush()
            report("step", task.task_id, 1)
            if checkpoint_every and sim.t % checkpoint_every == 0 and sim.t < steps:
                fh.flush()
                os.fsync(fh.fileno())
                checkpoints.save(
                    checkpoint_path,
                    task=task.task_id,
                    config_hash=config_hash,
                    step=sim.t,
                    rows=rows,
                    nbytes=os.fstat(fh.fileno()).st_size,
                    state=sim.state_dict(),
                )
        fh.flush()
        os.fsync(fh.fileno())
    if snapshot_every:
        _save_snapshot(sim, task)
    return {"metric_rows": rows}


def _snapshot_prefix(task: Task) -> str:
    return f"{safe_name(task.label)}_r{task.replicate}_s"


def _save_snapshot(sim: Any, task: Task) -> None:
    folder = ensure_folder(Path(task.run_dir), "snapshots")
    with atomic_file(folder / f"{_snapshot_prefix(task)}{sim.t:06d}.npz") as handle:
        np.savez_compressed(
            handle,
            variant=np.array(task.variant or task.label),
            label=np.array(task.label),
            sweep=np.array(json.dumps(task.sweep)),  # swept key -> value, as in metrics.csv
            replicate=np.array(task.replicate),
            **sim.snapshot(),
        )
