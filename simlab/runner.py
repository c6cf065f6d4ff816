"""Running scenarios: tasks, backends, streaming metrics, checkpoints, merging and summaries.

Each (variant or sweep point, replicate) is an independent task with a deterministic seed:
replicate r of every variant uses the same seed (paired comparisons). A task streams its
metric rows to ``tasks/<id>/metrics.csv`` as it goes and, every ``output.checkpoint_every``
steps, writes ``tasks/<id>/checkpoint.pt`` (see :mod:`simlab.checkpoint`); when it ends it
writes ``tasks/<id>/status.json``. Nothing holds all runs in memory: the run folder's
metrics.csv, metrics.parquet and summary.csv are merged from the task files at the end, one
task at a time.

Backends: ``local`` runs tasks one after another (``workers=1``) or in a process pool
(``workers=N``, spawn); ``ray`` fans them out over a Ray cluster (``address`` None starts a
local one), a task asking for one GPU when the device is cuda. Every task runs torch with
``SIMLAB_TASK_THREADS`` intra-op threads (default 1), so that the numbers do not depend on
the backend or on how many tasks share the machine: all backends give identical metrics.

Progress: an overall bar (steps of all tasks) plus one bar per running task, on stderr;
``quiet`` silences them. Workers report steps through a queue (a multiprocessing queue for the
pool, a Ray queue actor for Ray). A failing task is recorded (status "failed" with its error,
in status.json and manifest.json) and the others go on; the run's status is then "partial"
(or "failed" when no task completed).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import queue as queue_module
import re
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from simlab import __version__
from simlab import checkpoint as checkpoints
from simlab.config import Scenario, dump_yaml, load_scenario
from simlab.errors import ScenarioError
from simlab.summary import ID_COLUMNS, summarize

TOKEN_FILE = ".simlab-run-token"
Reporter = Callable[[str, str, int], None]


@dataclass
class Task:
    """One replicate of one variant (or sweep point)."""

    task_id: str
    label: str
    replicate: int
    scenario: dict[str, Any]
    device: str
    run_dir: str


class RunResult:
    """What :func:`run` returns: the run folder, its summary and manifest, and its merged
    metrics (``.metrics``, read from metrics.csv on first access so that a run never needs all
    of its rows in memory unless asked for)."""

    def __init__(
        self,
        path: Path,
        metrics: pd.DataFrame | None = None,
        summary: pd.DataFrame | None = None,
        manifest: dict[str, Any] | None = None,
    ):
        self.path = Path(path)
        self._metrics = metrics
        self.summary = summary if summary is not None else pd.DataFrame()
        self.manifest = manifest or {}

    @property
    def metrics(self) -> pd.DataFrame:
        if self._metrics is None:
            self._metrics = read_metrics(self.path / "metrics.csv")
        return self._metrics

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    def __repr__(self) -> str:
        return f"RunResult(path={str(self.path)!r}, status={self.status!r})"


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write then rename, so a reader never sees half a file and a crash loses nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def safe_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", label)


def make_tasks(scenario: Scenario, run_dir: Path, device: str) -> list[Task]:
    points = scenario.tasks()
    width = max(4, len(str(len(points) * scenario.replicates - 1)))
    tasks = []
    for label, variant in points:
        doc = variant.to_dict()
        for replicate in range(scenario.replicates):
            task_id = f"{len(tasks):0{width}d}_{safe_name(label)}_r{replicate}"
            tasks.append(Task(task_id, label, replicate, doc, device, str(run_dir)))
    return tasks


def task_dir(task: Task) -> Path:
    return Path(task.run_dir) / "tasks" / task.task_id


def read_status(task: Task) -> dict[str, Any] | None:
    path = task_dir(task) / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- one task


def task_threads() -> int:
    """torch intra-op threads per task (env SIMLAB_TASK_THREADS, default 1).

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
    from simlab.engine import Simulation

    report = progress or _no_report
    folder = task_dir(task)
    previous = read_status(task)
    if previous is not None and previous.get("status") == "complete":
        return previous
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    status: dict[str, Any] = {"task": task.task_id, "variant": task.label, "replicate": task.replicate}
    atomic_write(folder / "status.json", json.dumps({**status, "status": "running"}, indent=1))
    sim = None
    try:
        with _torch_threads(task_threads()):
            scenario = load_scenario(task.scenario)
            sim, restored, notes = _restore(Simulation, scenario, task, folder)
            notes.update(_run_simulation(sim, scenario, task, folder, report, restored))
        status.update(status="complete", steps=sim.t, **notes)
    except Exception as exc:  # recorded in the manifest; the other tasks go on
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
    from simlab.errors import SimulationError

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
    """One metrics.csv row; floats as repr (round-trips exactly), NaN as an empty cell."""
    values = []
    for name in names:
        value = float(row[name])
        values.append("" if math.isnan(value) else repr(value))
    return [task.label, task.replicate, step, *values]


def _restore(
    simulation: type, scenario: Scenario, task: Task, folder: Path
) -> tuple[Any, tuple[int, int] | None, dict[str, Any]]:
    """A Simulation for the task: from its checkpoint when there is a usable one (returning
    the metric rows and bytes to keep), else fresh. A checkpoint that cannot be used (another
    scenario, unreadable) is ignored and noted: starting over gives the same numbers, later."""
    sim = simulation(scenario, task.replicate, task.device)
    path = folder / checkpoints.FILENAME
    if not path.exists():
        return sim, None, {}
    metrics_path = folder / "metrics.csv"
    try:
        payload = checkpoints.load(path, task=task.task_id, config_hash=checkpoints.task_hash(task.scenario))
        size = metrics_path.stat().st_size if metrics_path.exists() else -1
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
    snapshots = Path(task.run_dir) / "snapshots"
    metrics_path = folder / "metrics.csv"
    checkpoint_path = folder / checkpoints.FILENAME
    config_hash = checkpoints.task_hash(task.scenario)
    append = restored is not None
    rows = 0
    if restored is not None:
        rows, nbytes = restored
        os.truncate(metrics_path, nbytes)  # rows written after the checkpoint are recomputed
    names = sim.recorder.names
    with open(metrics_path, "a" if append else "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if not append:
            writer.writerow([*ID_COLUMNS, *names])
            fh.flush()
        report("start", task.task_id, sim.t)
        while sim.t < steps:
            if snapshot_every and sim.t % snapshot_every == 0:
                _save_snapshot(sim, snapshots, task)
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
        _save_snapshot(sim, snapshots, task)
    return {"metric_rows": rows}


def _snapshot_prefix(task: Task) -> str:
    return f"{safe_name(task.label)}_r{task.replicate}_s"


def _save_snapshot(sim: Any, folder: Path, task: Task) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_snapshot_prefix(task)}{sim.t:06d}.npz"
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, variant=np.array(task.label), replicate=np.array(task.replicate), **sim.snapshot())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- progress


class _QueueReporter:
    """Worker side: forwards progress events to the parent through a queue, step counts
    batched to at most one message per ``interval`` seconds."""

    def __init__(self, queue: Any, interval: float = 0.1):
        self.queue, self.interval = queue, interval
        self.pending: dict[str, int] = {}
        self.last = 0.0

    def __call__(self, event: str, task_id: str, value: int) -> None:
        if event == "step":
            self.pending[task_id] = self.pending.get(task_id, 0) + value
            if time.monotonic() - self.last < self.interval:
                return
        self.flush()
        if event != "step":
            self._put((event, task_id, value))

    def flush(self) -> None:
        for task_id, n in self.pending.items():
            self._put(("step", task_id, n))
        self.pending.clear()
        self.last = time.monotonic()

    def _put(self, item: tuple[str, str, int]) -> None:
        with contextlib.suppress(Exception):  # progress is best effort; never fail a task for it
            self.queue.put_nowait(item)


class _Display:
    """Parent side: an overall bar over all tasks' steps and one bar per running task."""

    def __init__(self, tasks: list[Task], steps: int, quiet: bool, slots: int):
        from tqdm.auto import tqdm

        self.tqdm, self.steps, self.quiet = tqdm, steps, quiet
        self.overall = tqdm(
            total=len(tasks) * steps, desc="simlab", unit="step", disable=quiet, dynamic_ncols=True, position=0
        )
        self.free = list(range(1, slots + 1))
        self.bars: dict[str, tuple[int, Any]] = {}
        self.counted: dict[str, int] = {}
        self.finished_ids: set[str] = set()
        self.failed = 0

    def event(self, event: str, task_id: str, value: int) -> None:
        if task_id in self.finished_ids:
            return
        if event == "start":
            self._count(task_id, value - self.counted.get(task_id, 0))
            if self.free and not self.quiet:
                position = self.free.pop(0)
                bar = self.tqdm(
                    total=self.steps,
                    initial=value,
                    desc=f"  {task_id}",
                    unit="step",
                    position=position,
                    leave=False,
                    dynamic_ncols=True,
                )
                self.bars[task_id] = (position, bar)
        elif event == "step":
            self._count(task_id, value)
            if task_id in self.bars:
                self.bars[task_id][1].update(value)

    def _count(self, task_id: str, n: int) -> None:
        n = max(0, min(n, self.steps - self.counted.get(task_id, 0)))
        self.counted[task_id] = self.counted.get(task_id, 0) + n
        self.overall.update(n)

    def drain(self, source: Callable[[], list[tuple[str, str, int]]]) -> None:
        for item in source():
            self.event(*item)

    def finished(self, task_id: str, status: dict[str, Any]) -> None:
        self._count(task_id, self.steps)
        self.finished_ids.add(task_id)
        if task_id in self.bars:
            position, bar = self.bars.pop(task_id)
            bar.close()
            self.free.append(position)
            self.free.sort()
        if status.get("status") != "complete":
            self.failed += 1
            self.overall.set_postfix_str(f"{self.failed} failed")

    def close(self) -> None:
        for _, bar in self.bars.values():
            bar.close()
        self.overall.close()


def _drain_mp(queue: Any) -> Callable[[], list[tuple[str, str, int]]]:
    def source() -> list[tuple[str, str, int]]:
        items = []
        while True:
            try:
                items.append(queue.get_nowait())
            except (queue_module.Empty, OSError, ValueError):
                return items

    return source


# ---------------------------------------------------------------------------- backends


def execute(
    tasks: list[Task],
    steps: int,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    on_status: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run tasks on a backend; returns their status records in task order.

    Tasks already complete (status.json) are not run again. ``on_status`` is called with each
    task's status record as it finishes (the run keeps manifest.json current with it).
    """
    if backend not in ("local", "ray"):
        raise ScenarioError(f"expected backend 'local' or 'ray', found {backend!r}", file="--backend")
    if workers < 1:
        raise ScenarioError(f"expected workers >= 1, found {workers}", file="--workers")
    statuses: dict[str, dict[str, Any]] = {}
    todo = []
    for task in tasks:
        previous = read_status(task)
        if previous is not None and previous.get("status") == "complete":
            statuses[task.task_id] = previous
        else:
            todo.append(task)
    slots = min(len(todo), max(workers, 1) if backend == "local" else max(workers, 4)) if todo else 0
    display = _Display(tasks, steps, quiet, slots)
    for task_id in statuses:
        display.finished(task_id, statuses[task_id])

    def finished(task: Task, status: dict[str, Any]) -> None:
        statuses[task.task_id] = status
        display.finished(task.task_id, status)
        if on_status is not None:
            on_status(status)

    try:
        if not todo:
            pass
        elif backend == "ray":
            _execute_ray(todo, display, finished, address, workers)
        elif workers == 1 or len(todo) == 1:
            for task in todo:
                finished(task, execute_task(task, display.event))
        else:
            _execute_pool(todo, display, finished, workers)
    finally:
        display.close()
    return [statuses[t.task_id] for t in tasks]


_WORKER_QUEUE: Any = None


def _init_worker(queue: Any) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = queue


def _pool_task(task: Task) -> dict[str, Any]:
    reporter = _QueueReporter(_WORKER_QUEUE) if _WORKER_QUEUE is not None else None
    try:
        return execute_task(task, reporter)
    finally:
        if reporter is not None:
            reporter.flush()


def _crashed(task: Task, exc: BaseException) -> dict[str, Any]:
    return {
        "task": task.task_id,
        "variant": task.label,
        "replicate": task.replicate,
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc or 'the worker process died'} (finish it with simlab run --resume)",
    }


def _execute_pool(tasks: list[Task], display: _Display, finished: Callable, workers: int) -> None:
    import multiprocessing as mp

    context = mp.get_context("spawn")
    queue = context.Queue()
    source = _drain_mp(queue)
    with ProcessPoolExecutor(min(workers, len(tasks)), context, _init_worker, (queue,)) as pool:
        futures = {pool.submit(_pool_task, task): task for task in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            display.drain(source)
            for future in done:
                task = futures[future]
                try:
                    status = future.result()
                except Exception as exc:  # the worker died (killed, out of memory): record, go on
                    status = _crashed(task, exc)
                finished(task, status)
    display.drain(source)
    queue.close()


def _ray_task(task: Task, token: str, queue: Any) -> dict[str, Any]:
    """A task on a Ray worker. If the worker does not see the driver's run folder (no shared
    file system), the task runs in a node-local folder and returns its files to the driver."""
    shared = False
    with contextlib.suppress(OSError):
        shared = (Path(task.run_dir) / TOKEN_FILE).read_text() == token
    local = (
        task if shared else dataclasses.replace(task, run_dir=str(Path(tempfile.gettempdir()) / "simlab-ray" / token))
    )
    reporter = _QueueReporter(queue) if queue is not None else None
    status = execute_task(local, reporter)
    if reporter is not None:
        reporter.flush()
    if not shared:
        status["files"] = _collect_files(local)
        if status.get("status") == "complete":  # the driver keeps the files; free the node's disk
            shutil.rmtree(task_dir(local), ignore_errors=True)
            for path in (Path(local.run_dir) / "snapshots").glob(f"{_snapshot_prefix(local)}*.npz"):
                path.unlink(missing_ok=True)
    return status


def _collect_files(task: Task) -> dict[str, bytes]:
    root = Path(task.run_dir)
    files = {}
    folder = task_dir(task)
    for name in ("metrics.csv", "status.json"):
        if (folder / name).exists():
            files[f"tasks/{task.task_id}/{name}"] = (folder / name).read_bytes()
    snapshots = root / "snapshots"
    if snapshots.exists():
        for path in snapshots.glob(f"{_snapshot_prefix(task)}*.npz"):
            files[f"snapshots/{path.name}"] = path.read_bytes()
    return files


def _execute_ray(tasks: list[Task], display: _Display, finished: Callable, address: str | None, workers: int) -> None:
    """Fan tasks out over a Ray cluster (``address`` None starts a local one, with ``workers``
    CPUs when workers > 1); a task asks for one CPU, and one GPU when its device is cuda."""
    try:
        import ray
        from ray.util.queue import Queue
    except ImportError:
        raise ScenarioError("the ray backend needs Ray: pip install 'simlab[ray]'", file="--backend") from None

    run_dir = Path(tasks[0].run_dir)
    token = uuid.uuid4().hex
    atomic_write(run_dir / TOKEN_FILE, token)
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address is None and workers > 1:
            options["num_cpus"] = workers
        try:
            ray.init(address=address, **options)
        except Exception as exc:
            raise ScenarioError(f"cannot start or reach a Ray cluster: {exc}", file="--address") from None
    queue = None
    try:
        queue = Queue()
        remote = ray.remote(_ray_task)
        refs = {
            remote.options(num_cpus=1, num_gpus=1 if task.device == "cuda" else 0, max_retries=0).remote(
                task, token, queue
            ): task
            for task in tasks
        }

        def source() -> list[tuple[str, str, int]]:
            with contextlib.suppress(Exception):
                n = queue.qsize()
                return list(queue.get_nowait_batch(n)) if n else []
            return []

        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.1)
            display.drain(source)
            for ref in done:
                task = refs[ref]
                try:
                    status = ray.get(ref)
                except Exception as exc:  # worker crash or an error outside execute_task
                    status = _crashed(task, exc)
                for relative, data in (status.pop("files", None) or {}).items():
                    atomic_write(run_dir / relative, data)
                finished(task, status)
        display.drain(source)
    finally:
        if queue is not None:
            with contextlib.suppress(Exception):
                queue.shutdown()
        if started_here:
            ray.shutdown()
        with contextlib.suppress(OSError):
            (run_dir / TOKEN_FILE).unlink()


# ---------------------------------------------------------------------------- a run


def default_run_dir(scenario: Scenario) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path(scenario.output.dir) / scenario.name / stamp


def run(
    scenario: Scenario | str | Path | dict[str, Any],
    *,
    out: str | Path | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    steps: int | None = None,
    device: str | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
) -> RunResult:
    """Run every task of a scenario and write the run folder (DESIGN.md §3).

    ``out`` makes that folder the run folder (default ``runs/<name>/<stamp>/``).
    """
    extra = dict(overrides or {})
    for key, value in (("replicates", replicates), ("seed", seed), ("steps", steps), ("device", device)):
        if value is not None:
            extra[key] = value
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, extra)
    elif extra:
        scenario = load_scenario(scenario.to_dict(), extra)
    if backend not in ("local", "ray"):
        raise ScenarioError(f"expected backend 'local' or 'ray', found {backend!r}", file="--backend")
    if workers < 1:
        raise ScenarioError(f"expected workers >= 1, found {workers}", file="--workers")
    run_dir = Path(out) if out is not None else default_run_dir(scenario)
    if run_dir.exists() and not run_dir.is_dir():
        raise ScenarioError("expected a folder for the run, found a file", file=str(run_dir))
    if run_dir.exists() and any(run_dir.iterdir()):
        hint = (
            "; to finish an interrupted run use: simlab run --resume DIR"
            if (run_dir / "manifest.json").exists()
            else ""
        )
        raise ScenarioError(
            f"run folder already exists and is not empty; choose another --out{hint}", file=str(run_dir)
        )
    resolved_device = scenario.resolved_device()
    if resolved_device == "cuda" and not torch.cuda.is_available() and backend == "local":
        raise ScenarioError("expected an available CUDA device, found none", key="device")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(f"cannot create the run folder: {exc.strerror}", file=str(run_dir)) from None

    atomic_write(run_dir / "scenario.yaml", dump_yaml(scenario))
    tasks = make_tasks(scenario, run_dir, resolved_device)
    manifest = _manifest(scenario, tasks, resolved_device, workers, backend)
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
    return run_tasks(run_dir, scenario, tasks, manifest, workers=workers, backend=backend, address=address, quiet=quiet)


def run_tasks(
    run_dir: Path,
    scenario: Scenario,
    tasks: list[Task],
    manifest: dict[str, Any],
    *,
    workers: int,
    backend: str,
    address: str | None,
    quiet: bool,
) -> RunResult:
    """Execute (or finish) a run's tasks, keeping manifest.json current, then merge."""
    index = {t.task_id: i for i, t in enumerate(tasks)}

    def on_status(status: dict[str, Any]) -> None:
        manifest["tasks"][index[status["task"]]] = _public(status)
        atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))

    started = time.perf_counter()
    statuses = execute(
        tasks, scenario.steps, workers=workers, backend=backend, address=address, quiet=quiet, on_status=on_status
    )
    manifest["tasks"] = [_public(s) for s in statuses]
    timings = manifest.setdefault("timings", {})
    timings["total_seconds"] = round(timings.get("total_seconds", 0.0) + time.perf_counter() - started, 3)
    return finish_run(run_dir, scenario, manifest, quiet)


def _public(status: dict[str, Any]) -> dict[str, Any]:
    """A task's status record for manifest.json (the traceback stays in status.json)."""
    return {k: v for k, v in status.items() if k not in ("traceback", "files")}


def _manifest(scenario: Scenario, tasks: list[Task], device: str, workers: int, backend: str) -> dict[str, Any]:
    return {
        "simlab": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else None,
        "config_hash": scenario.config_hash(),
        "seed": scenario.seed,
        "replicates": scenario.replicates,
        "steps": scenario.steps,
        "workers": workers,
        "backend": backend,
        "task_threads": task_threads(),
        "checkpoint_every": scenario.output.checkpoint_every,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "status": "running",
        "tasks": [
            {"task": t.task_id, "variant": t.label, "replicate": t.replicate, "status": "pending"} for t in tasks
        ],
        "task_specs": [asdict(t) | {"scenario": None} for t in tasks],
    }


# ---------------------------------------------------------------------------- merging


def _header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def read_metrics(path: Path) -> pd.DataFrame:
    """A metrics.csv as a DataFrame (variant labels kept as text, empty cells NaN)."""
    columns = _header(path)
    if not columns:
        return pd.DataFrame(columns=ID_COLUMNS)
    na = {c: ["", "nan", "NaN"] for c in columns if c != "variant"}
    return pd.read_csv(path, dtype={"variant": str}, keep_default_na=False, na_values=na)


def merge_metrics(run_dir: Path, task_ids: list[str], parquet: bool = True) -> list[str]:
    """Stream the tasks' metric files, in task order, into the run's metrics.csv (and
    metrics.parquet, one row group per task); returns the merged columns.

    With the same columns in every task (the usual case) the files are concatenated byte for
    byte; otherwise rows are re-aligned to the union of the columns (missing cells empty).
    """
    paths = [run_dir / "tasks" / t / "metrics.csv" for t in task_ids]
    paths = [p for p in paths if p.exists()]
    headers = [_header(p) for p in paths]
    columns = list(ID_COLUMNS)
    for header in headers:
        columns.extend(c for c in header if c not in columns)
    tmp = run_dir / f".metrics.csv.tmp{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for path, header in zip(paths, headers):
            if header == columns:
                out.flush()
                with open(path, "rb") as src:
                    src.readline()
                    shutil.copyfileobj(src, out.buffer)
                out.buffer.flush()
            else:
                with open(path, newline="", encoding="utf-8") as src:
                    for record in csv.DictReader(src):
                        writer.writerow([record.get(c, "") for c in columns])
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, run_dir / "metrics.csv")
    if parquet:
        _write_parquet(run_dir, paths, columns)
    return columns


def _write_parquet(run_dir: Path, paths: list[Path], columns: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    types = {"variant": pa.string(), "replicate": pa.int64(), "step": pa.int64()}
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in columns])
    options = pacsv.ConvertOptions(
        column_types=schema,
        include_columns=columns,
        include_missing_columns=True,
        strings_can_be_null=False,
        null_values=["", "nan", "NaN"],
    )
    tmp = run_dir / f".metrics.parquet.tmp{os.getpid()}"
    with pq.ParquetWriter(tmp, schema) as writer:
        for path in paths:
            table = pacsv.read_csv(path, convert_options=options)
            if table.num_rows:
                writer.write_table(table.select(columns).cast(schema))
    os.replace(tmp, run_dir / "metrics.parquet")


def _final_rows(run_dir: Path, task_ids: list[str]) -> pd.DataFrame:
    """The last recorded row of each task (all that the summary needs), one file at a time."""
    rows = []
    for task_id in task_ids:
        path = run_dir / "tasks" / task_id / "metrics.csv"
        if not path.exists():
            continue
        frame = read_metrics(path)
        if len(frame):
            rows.append(frame.loc[frame["step"] == frame["step"].max()])
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=ID_COLUMNS)


def finish_run(run_dir: Path, scenario: Scenario, manifest: dict[str, Any], quiet: bool) -> RunResult:
    """Merge the completed tasks' metrics, write summary, figures, report and the final manifest.

    Failed tasks keep their partial stream in tasks/<id>/metrics.csv but are left out of the
    merged files and the summary (their replicates would end at different steps).
    """
    run_dir = Path(run_dir)
    complete = [s["task"] for s in manifest["tasks"] if s.get("status") == "complete"]
    failed = [s for s in manifest["tasks"] if s.get("status") != "complete"]
    merge_metrics(run_dir, complete, parquet=scenario.output.parquet)
    last = _final_rows(run_dir, complete)
    summary = summarize(last) if len(last) else pd.DataFrame()
    atomic_write(run_dir / "summary.csv", summary.to_csv(index=False))
    manifest["status"] = "complete" if not failed else ("failed" if not complete else "partial")
    manifest["merged_tasks"] = len(complete)
    manifest["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    if scenario.output.figures and complete:
        from simlab.plotting import plot_run

        manifest["figures"] = [str(p.relative_to(run_dir)) for p in plot_run(run_dir)]
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
    if scenario.output.report and complete:
        from simlab.report import write_report

        write_report(run_dir)
    for status in failed:
        print(f"task {status['task']} failed: {status.get('error')}", file=sys.stderr)
    if failed:
        print(
            f"{len(failed)} of {len(manifest['tasks'])} tasks failed (run status {manifest['status']}); "
            f"details in {run_dir / 'manifest.json'}",
            file=sys.stderr,
        )
    if not quiet:
        print(f"run folder: {run_dir}")
    return RunResult(run_dir, None, summary, manifest)
