"""A run: the run folder (scenario, manifest, tasks), its execution, and the merged outputs."""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from simlab import __version__
from simlab.config import Scenario, dump_yaml, load_scenario
from simlab.config.validation import plugin_search_path
from simlab.core.errors import RunInterrupted, ScenarioError
from simlab.running import inputs as pinned_inputs
from simlab.running.backends import execute
from simlab.running.files import LOCK_FILE, atomic_write, locked, read_metrics
from simlab.running.merging import final_rows, merge_metrics
from simlab.running.summary import summarize
from simlab.running.tasks import Task, make_tasks, task_threads


class RunResult:
    """What :func:`run` returns: the run folder, its summary and manifest, and its merged
    metrics (``.metrics``, read from metrics.csv on first access so that a run never needs all
    of its rows in memory unless asked for).
    """

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


def default_run_dir(scenario: Scenario) -> Path:
    """``<output.dir>/<name>/<timestamp>/``, the run folder when ``--out`` is not given."""
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
    workers: int | None = 1,
    backend: str = "local",
    address: str | None = None,
    quiet: bool = False,
    max_memory: int | str | None = None,
) -> RunResult:
    """Run every task of a scenario and write the run folder (docs/design.md §3).

    ``out`` makes that folder the run folder (default ``runs/<name>/<stamp>/``). Before any
    work, the run's peak memory is estimated (:mod:`simlab.running.resources`): a task that
    does not fit ``max_memory`` (bytes or "2G"; default the available memory) is refused, and
    ``workers`` (None: $SIMLAB_WORKERS, else the usable cores) is capped at what memory and the
    task count allow. The run's data files and plugin modules are pinned
    (:mod:`simlab.running.inputs`), and the folder is locked while the run writes it
    (:func:`simlab.running.files.locked`).
    """
    extra = dict(overrides or {})
    flags = {"replicates": replicates, "seed": seed, "steps": steps, "device": device}
    extra.update({k: v for k, v in flags.items() if v is not None})
    try:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, extra)
        elif extra:
            scenario = load_scenario(scenario.to_dict(), extra)
    except ScenarioError as exc:
        if exc.file == "--set" and flags.get(exc.key or "") is not None:  # name the option the user typed
            raise ScenarioError(exc.detail, file=f"--{exc.key}") from None
        raise
    if backend not in ("local", "ray"):
        raise ScenarioError(f"expected backend 'local' or 'ray', found {backend!r}", file="--backend")
    if scenario.plugins:  # a plugin type that breaks the component contract is refused before any work
        from simlab.testing import check_plugins

        check_plugins(scenario)
    if workers is not None and workers < 1:
        raise ScenarioError(f"expected workers >= 1, found {workers}", file="--workers")
    from simlab.running.resources import parse_size, plan

    if backend == "ray" and address:
        check_address(address)
    limit = parse_size(max_memory) if isinstance(max_memory, str) else max_memory
    workers, note = plan(scenario, workers, limit, backend)
    if note:
        print(note, file=sys.stderr)
    run_dir = Path(out) if out is not None else default_run_dir(scenario)
    if run_dir.exists() and not run_dir.is_dir():
        raise ScenarioError("expected a folder for the run, found a file", file=str(run_dir))
    _refuse_a_used_folder(run_dir)
    resolved_device = scenario.resolved_device()
    if resolved_device == "cuda" and not torch.cuda.is_available() and backend == "local":
        raise ScenarioError("expected an available CUDA device, found none", key="device")
    search = plugin_search_path(scenario.source) if scenario.plugins else []
    tasks = make_tasks(scenario, run_dir, resolved_device, search)
    inputs = pinned_inputs.record([t.scenario.to_dict() for t in tasks], search, scenario.plugins)
    for task in tasks:
        task.inputs = pinned_inputs.pinned(inputs)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(f"cannot create the run folder: {exc.strerror}", file=str(run_dir)) from None
    with locked(run_dir):
        _refuse_a_used_folder(run_dir)  # again, now that no other simlab process can write it
        atomic_write(run_dir / "scenario.yaml", dump_yaml(scenario))
        manifest = _manifest(scenario, tasks, resolved_device, workers, backend, inputs)
        atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
        return run_tasks(
            run_dir, scenario, tasks, manifest, workers=workers, backend=backend, address=address, quiet=quiet
        )


def _refuse_a_used_folder(run_dir: Path) -> None:
    """A new run goes into a new or empty folder (its lock file aside), never over another run."""
    if not run_dir.exists() or not any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        return
    hint = "; to finish an interrupted run use: simlab run --resume DIR" if (run_dir / "manifest.json").exists() else ""
    raise ScenarioError(f"run folder already exists and is not empty; choose another --out{hint}", file=str(run_dir))


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
    try:
        statuses = execute(
            tasks, scenario.steps, workers=workers, backend=backend, address=address, quiet=quiet, on_status=on_status
        )
    except KeyboardInterrupt:  # say where the run is, so that the command line can tell how to finish it
        raise RunInterrupted(run_dir, checkpoints=scenario.output.checkpoint_every > 0) from None
    manifest["tasks"] = [_public(s) for s in statuses]
    timings = manifest.setdefault("timings", {})
    timings["total_seconds"] = round(timings.get("total_seconds", 0.0) + time.perf_counter() - started, 3)
    return finish_run(run_dir, scenario, manifest, quiet)


def check_address(address: str, timeout: float = 5.0) -> None:
    """Refuse a Ray cluster address that does not accept a TCP connection within ``timeout``
    seconds (ray.init would otherwise retry for minutes). "auto" and "local" are Ray's own.
    """
    import socket

    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ScenarioError(f"expected HOST:PORT (or ray://HOST:PORT, auto), found {address!r}", file="--address")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ScenarioError(
            f"cannot reach a Ray cluster at {address} within {timeout:.0f} s ({reason})", file="--address"
        ) from None


def _public(status: dict[str, Any]) -> dict[str, Any]:
    """A task's status record for manifest.json (the traceback stays in status.json)."""
    return {k: v for k, v in status.items() if k not in ("traceback", "files")}


def _manifest(
    scenario: Scenario, tasks: list[Task], device: str, workers: int, backend: str, inputs: dict[str, Any]
) -> dict[str, Any]:
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
        "task_specs": [
            # the scenario and inputs are in scenario.yaml and inputs.json (asdict would deep-copy them)
            {f.name: None if f.name in ("scenario", "inputs") else getattr(t, f.name) for f in fields(t)}
            for t in tasks
        ],
        "interventions": _interventions(tasks),
        "inputs": inputs,
    }


def _interventions(tasks: list[Task]) -> list[dict[str, Any]]:
    """Each intervention type the run's tasks use, in order of first use: whether it is
    ``privileged`` (reads the true state: an upper bound, not a deployable mitigation) and the
    task labels (variants, sweep points) that use it.
    """
    from simlab.registry import INTERVENTIONS

    found: dict[str, dict[str, Any]] = {}
    for task in tasks:
        for block in task.scenario.interventions:
            privileged = bool(getattr(INTERVENTIONS.get(block.type), "privileged", False))
            entry = found.setdefault(block.type, {"type": block.type, "privileged": privileged, "variants": []})
            if task.label not in entry["variants"]:
                entry["variants"].append(task.label)
    return list(found.values())


def finish_run(run_dir: Path, scenario: Scenario, manifest: dict[str, Any], quiet: bool) -> RunResult:
    """Merge the completed tasks' metrics, write summary, figures, report and the final manifest.

    Failed tasks keep their partial stream in tasks/<id>/metrics.csv but are left out of the
    merged files and the summary (their replicates would end at different steps).
    """
    run_dir = Path(run_dir)
    complete = [s["task"] for s in manifest["tasks"] if s.get("status") == "complete"]
    failed = [s for s in manifest["tasks"] if s.get("status") != "complete"]
    merge_metrics(run_dir, complete, parquet=scenario.output.parquet)
    last = final_rows(run_dir, complete)
    summary = summarize(last, scenario.sweep_baseline) if len(last) else pd.DataFrame()
    atomic_write(run_dir / "summary.csv", summary.to_csv(index=False))
    manifest["status"] = "complete" if not failed else ("failed" if not complete else "partial")
    manifest["merged_tasks"] = len(complete)
    manifest["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    if scenario.output.figures and complete:
        from simlab.outputs.plotting import plot_run

        manifest["figures"] = [str(p.relative_to(run_dir)) for p in plot_run(run_dir)]
    atomic_write(run_dir / "manifest.json", json.dumps(manifest, indent=1))
    if scenario.output.report and complete:
        from simlab.outputs.report import write_report

        write_report(run_dir)
    for status in failed:
        print(f"task {status['task']} failed: {status.get('error')}", file=sys.stderr)
    if failed:
        print(
            f"{len(failed)} of {len(manifest['tasks'])} tasks failed (run status {manifest['status']}); "
            f"details in {run_dir / 'manifest.json'}",
            file=sys.stderr,
        )
    if not quiet and complete:
        from simlab.outputs.terminal import run_summary

        print(run_summary(run_dir), end="")
    print(f"run folder: {run_dir}")  # even when quiet: scripts read it
    return RunResult(run_dir, None, summary, manifest)
