"""Backends: run tasks one after another, in a local process pool, or on a Ray cluster."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from simlab.core.errors import OutputError, ScenarioError
from simlab.running.files import atomic_write, ensure_folder
from simlab.running.progress import _Display, _drain_mp, _QueueReporter
from simlab.running.tasks import TOKEN_FILE, Task, _snapshot_prefix, execute_task, read_status, task_dir


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
                except OutputError:  # a full disk: stop, and start no queued task
                    for other in pending:
                        other.cancel()
                    raise
                except Exception as exc:  # the worker died (killed, out of memory): record, go on
                    status = _crashed(task, exc)
                finished(task, status)
    display.drain(source)
    queue.close()


def _ray_task(task: Task, token: str, queue: Any) -> dict[str, Any]:
    """A task on a Ray worker. If the worker does not see the driver's run folder (no shared
    file system), the task runs in a node-local folder and returns its files to the driver.
    """
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
    CPUs when workers > 1); a task asks for one CPU, and one GPU when its device is cuda.
    """
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
                    folder = ensure_folder(run_dir, *Path(relative).parent.parts)
                    atomic_write(folder / Path(relative).name, data)
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
