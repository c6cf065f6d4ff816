"""Running scenarios: tasks, the run folder, streaming metrics, merging and summaries.

Each (variant or sweep point, replicate) is an independent task with a deterministic seed:
replicate r of every variant uses the same seed (paired comparisons). A task streams its
metric rows to ``tasks/<id>/metrics.csv`` as it goes; the run folder's metrics.csv,
metrics.parquet and summary.csv are merged from those files at the end.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import re
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from simlab import __version__
from simlab.config import Scenario, dump_yaml, load_scenario
from simlab.errors import ScenarioError
from simlab.summary import ID_COLUMNS, summarize


@dataclass
class Task:
    """One replicate of one variant (or sweep point)."""

    task_id: str
    label: str
    replicate: int
    scenario: dict[str, Any]
    device: str
    run_dir: str


@dataclass
class RunResult:
    """What :func:`run` returns: the run folder and its merged metrics."""

    path: Path
    metrics: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)


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
    tasks = []
    for label, variant in scenario.tasks():
        for replicate in range(scenario.replicates):
            task_id = f"{len(tasks):04d}_{safe_name(label)}_r{replicate}"
            tasks.append(Task(task_id, label, replicate, variant.to_dict(), device, str(run_dir)))
    return tasks


# ---------------------------------------------------------------------------- one task


def execute_task(task: Task, progress: Any = None) -> dict[str, Any]:
    """Run one task to completion, streaming metrics; returns its status record.

    Errors are caught and recorded so one failing task does not lose the others.
    """
    from simlab.engine import Simulation

    started = time.perf_counter()
    task_dir = Path(task.run_dir) / "tasks" / task.task_id
    task_dir.mkdir(parents=True, exist_ok=True)
    status: dict[str, Any] = {"task": task.task_id, "variant": task.label, "replicate": task.replicate}
    try:
        scenario = load_scenario(task.scenario)
        sim = Simulation(scenario, task.replicate, task.device)
        _run_simulation(sim, scenario, task, task_dir, progress)
        status.update(status="complete", steps=sim.t)
    except Exception as exc:  # recorded in the manifest; the other tasks go on
        status.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    status["seconds"] = round(time.perf_counter() - started, 3)
    atomic_write(task_dir / "status.json", json.dumps(status, indent=1))
    return status


def _run_simulation(sim: Any, scenario: Scenario, task: Task, task_dir: Path, progress: Any) -> None:
    snapshot_every = scenario.output.snapshot_every
    snapshots = Path(task.run_dir) / "snapshots"
    metrics_path = task_dir / "metrics.csv"
    with open(metrics_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*ID_COLUMNS, *sim.recorder.names])
        for _ in range(scenario.steps):
            if snapshot_every and sim.t % snapshot_every == 0:
                _save_snapshot(sim, snapshots, task)
            row = sim.step()
            if row is not None:
                writer.writerow(
                    [task.label, task.replicate, sim.t - 1, *(repr(float(row[n])) for n in sim.recorder.names)]
                )
                fh.flush()
            if progress is not None:
                progress(1)
    if snapshot_every:
        _save_snapshot(sim, snapshots, task)


def _save_snapshot(sim: Any, folder: Path, task: Task) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_name(task.label)}_r{task.replicate}_s{sim.t:06d}.npz"
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, variant=np.array(task.label), replicate=np.array(task.replicate), **sim.snapshot())
    os.replace(tmp, path)


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
    run_dir = Path(out) if out is not None else default_run_dir(scenario)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ScenarioError("run folder already exists and is not empty; choose another --out", file=str(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved_device = scenario.resolved_device()
    if resolved_device == "cuda" and not torch.cuda.is_available():
        raise ScenarioError("expected an available CUDA device, found none", key="device")

    atomic_write(run_dir / "scenario.yaml", dump_yaml(scenario))
    tasks = make_tasks(scenario, run_dir, resolved_device)
    manifest = _manifest(scenario, tasks, resolved_device, workers)
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))

    started = time.perf_counter()
    statuses = execute(tasks, scenario.steps, workers=workers, backend=backend, address=address, quiet=quiet)
    manifest["tasks"] = statuses
    manifest["timings"] = {"total_seconds": round(time.perf_counter() - started, 3)}
    return finish_run(run_dir, scenario, manifest, quiet)


def execute(
    tasks: list[Task],
    steps: int,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Run tasks on a backend; returns their status records in task order."""
    from tqdm.auto import tqdm

    if backend == "ray":
        return _execute_ray(tasks, steps, address, quiet)
    bar = tqdm(total=len(tasks) * steps, unit="step", desc="simlab", disable=quiet, dynamic_ncols=True)
    statuses: list[dict[str, Any]] = []
    try:
        if workers <= 1:
            for task in tasks:
                bar.set_postfix_str(f"{task.label} r{task.replicate}")
                statuses.append(execute_task(task, bar.update))
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            import multiprocessing as mp

            with ProcessPoolExecutor(workers, mp.get_context("spawn"), _init_worker, (threads,)) as pool:
                futures = {pool.submit(execute_task, task): task for task in tasks}
                for future in as_completed(futures):
                    statuses.append(future.result())
                    bar.update(steps)
    finally:
        bar.close()
    order = {t.task_id: i for i, t in enumerate(tasks)}
    return sorted(statuses, key=lambda s: order[s["task"]])


def _execute_ray(tasks: list[Task], steps: int, address: str | None, quiet: bool) -> list[dict[str, Any]]:
    """Fan tasks out over a Ray cluster (``address`` None starts a local one); a task asks for a
    GPU when its device is cuda."""
    try:
        import ray
    except ImportError:
        raise ScenarioError("the ray backend needs Ray: pip install 'simlab[ray]'", file="--backend") from None
    from tqdm.auto import tqdm

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(execute_task)
        refs = [remote.options(num_gpus=1 if t.device == "cuda" else 0, num_cpus=1).remote(t) for t in tasks]
        statuses = []
        with tqdm(total=len(tasks) * steps, unit="step", desc="simlab[ray]", disable=quiet) as bar:
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                statuses.append(ray.get(done[0]))
                bar.update(steps)
    finally:
        if started_here:
            ray.shutdown()
    order = {t.task_id: i for i, t in enumerate(tasks)}
    return sorted(statuses, key=lambda s: order[s["task"]])


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _manifest(scenario: Scenario, tasks: list[Task], device: str, workers: int) -> dict[str, Any]:
    return {
        "simlab": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "device": device,
        "cuda_device": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "config_hash": scenario.config_hash(),
        "seed": scenario.seed,
        "replicates": scenario.replicates,
        "steps": scenario.steps,
        "workers": workers,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "status": "running",
        "tasks": [
            {"task": t.task_id, "variant": t.label, "replicate": t.replicate, "status": "pending"} for t in tasks
        ],
        "task_specs": [asdict(t) | {"scenario": None} for t in tasks],
    }


def merge_metrics(run_dir: Path) -> pd.DataFrame:
    """Concatenate the tasks' streamed metric files in task order."""
    frames = []
    for path in sorted((run_dir / "tasks").glob("*/metrics.csv")):
        frame = pd.read_csv(path)
        if len(frame):
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=ID_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def finish_run(run_dir: Path, scenario: Scenario, manifest: dict[str, Any], quiet: bool) -> RunResult:
    """Merge the tasks' metrics, write summary, figures, report and the final manifest."""
    metrics = merge_metrics(run_dir)
    atomic_write(run_dir / "metrics.csv", metrics.to_csv(index=False))
    if scenario.output.parquet:
        metrics.to_parquet(run_dir / "metrics.parquet.tmp", index=False)
        os.replace(run_dir / "metrics.parquet.tmp", run_dir / "metrics.parquet")
    summary = summarize(metrics) if len(metrics) else pd.DataFrame()
    atomic_write(run_dir / "summary.csv", summary.to_csv(index=False))
    failed = [s for s in manifest["tasks"] if s.get("status") != "complete"]
    manifest["status"] = (
        "complete" if not failed else ("failed" if len(failed) == len(manifest["tasks"]) else "partial")
    )
    manifest["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    if scenario.output.figures and len(metrics):
        from simlab.plotting import plot_run

        manifest["figures"] = [str(p.relative_to(run_dir)) for p in plot_run(run_dir)]
    if scenario.output.report and len(metrics):
        from simlab.report import write_report

        write_report(run_dir)
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
    if not quiet:
        for status in failed:
            print(f"task {status['task']} failed: {status.get('error')}")
        print(f"run folder: {run_dir}")
    return RunResult(run_dir, metrics, summary, manifest)
