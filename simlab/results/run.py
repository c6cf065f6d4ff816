"""The run reader: what a finished run folder holds, read once for the figures and the report.

A :class:`Run` is metrics.csv (NaN where a metric does not apply to a point,
:mod:`simlab.results.applicable`), scenario.yaml, the points in scenario order with each point's
baseline, and an index of snapshots/*.npz (their arrays are read only when asked for, and each
snapshot field once: :func:`snapshot_field`). Nothing here draws; the figures are
:mod:`simlab.outputs.plotting`'s.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simlab.results.applicable import mask
from simlab.results.metrics_file import read_metrics
from simlab.results.tables import baselines, final_rows, metric_columns, points, same_point, sweep_columns


@dataclass(frozen=True)
class Point:
    """One curve of a run: a variant at one sweep point (``key`` = (variant, *swept values))."""

    key: tuple[Any, ...]
    sweep: dict[str, Any]

    @property
    def variant(self) -> str:
        return str(self.key[0])

    @property
    def label(self) -> str:
        """Short: the variant, then each swept key by its last part (``dlrm | b_ext=0.5``)."""
        values = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in self.sweep.items())
        if not values:
            return self.variant
        return values if self.variant == "base" else f"{self.variant} | {values}"


@dataclass
class Run:
    """What the figures read from a run folder: metrics (NaN where a metric does not apply to a
    point), the points in scenario order, each point's baseline, and the snapshot index (arrays
    are loaded only when a figure needs them).
    """

    path: Path
    metrics: pd.DataFrame
    points: list[Point]
    baseline: dict[tuple[Any, ...], tuple[Any, ...]]
    sweep: dict[str, list[Any]]
    snapshots: pd.DataFrame  # path, point (index into points), replicate, step
    scenario: dict[str, Any]

    @property
    def names(self) -> list[str]:
        """Metric columns with at least one value (where they apply)."""
        return [c for c in metric_columns(self.metrics.columns) if self.metrics[c].notna().any()]

    @property
    def replicates(self) -> int:
        return int(self.metrics["replicate"].nunique()) if len(self.metrics) else 0

    def baseline_rule(self) -> str:
        """In words: what each point's paired differences are taken against."""
        chosen = self.scenario.get("sweep_baseline")
        if chosen:
            return "the same variant at " + ", ".join(f"{k}={v}" for k, v in chosen.items())
        first = self.points[0].variant if self.points else "?"
        return f"{first} at the same sweep point" if self.sweep else first

    def compared(self) -> list[tuple[Point, Point]]:
        """(point, its baseline) for every point that has a baseline other than itself."""
        by_key = {p.key: p for p in self.points}
        return [(p, by_key[self.baseline[p.key]]) for p in self.points if self.baseline.get(p.key, p.key) != p.key]


def load_run(run_dir: str | Path | Run) -> Run:
    """Read a run folder (a :class:`Run` is returned as it is, so that a caller reads once).

    Args:
        run_dir: the run folder (metrics.csv, scenario.yaml, snapshots/), or a Run already read.

    Returns:
        The run: metrics masked where a metric does not apply, points in scenario order
        (variants as listed, then the sweep grid), baselines and the snapshot index.

    Raises:
        ScenarioError: metrics.csv is not a simlab metrics table.
    """
    if isinstance(run_dir, Run):
        return run_dir
    run_dir = Path(run_dir)
    doc: dict[str, Any] = {}
    if (run_dir / "scenario.yaml").exists():
        doc = yaml.safe_load((run_dir / "scenario.yaml").read_text(encoding="utf-8")) or {}
    metrics = mask(read_metrics(run_dir / "metrics.csv"), doc)
    sweep = {k: list(v) for k, v in (doc.get("sweep") or {}).items()}
    keys = sweep_columns(metrics.columns)
    found = [Point(key, dict(zip(keys, key[1:]))) for key in points(metrics)] if len(metrics) else []
    order = _scenario_order(doc, sweep)
    if order:  # scenario order (variants as listed, then the sweep grid), not first-finished order
        found.sort(key=lambda p: next((i for i, o in enumerate(order) if same_point(p.key, o)), len(order)))
    variants = list(doc.get("variants") or {}) or None
    base = baselines(final_rows(metrics), doc.get("sweep_baseline"), variants) if len(metrics) else {}
    return Run(run_dir, metrics, found, base, sweep, _snapshot_index(run_dir, found), doc)


def _scenario_order(doc: dict[str, Any], sweep: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    variants = list(doc.get("variants") or {}) or ["base"]
    return [(v, *values) for v in variants for values in itertools.product(*sweep.values())]


def _snapshot_index(run_dir: Path, found: list[Point]) -> pd.DataFrame:
    rows = []
    for path in sorted((run_dir / "snapshots").glob("*.npz")):
        with np.load(path) as data:
            sweep = json.loads(str(data["sweep"])) if "sweep" in data.files else {}
            key = (str(data["variant"]), *sweep.values())
            index = next((i for i, p in enumerate(found) if same_point(p.key, key)), None)
            if index is not None:
                rows.append(
                    {"path": path, "point": index, "replicate": int(data["replicate"]), "step": int(data["step"])}
                )
    return pd.DataFrame(rows, columns=["path", "point", "replicate", "step"])


def point_snapshots(run: Run, index: int, step: int | None = None, replicate: int | None = None) -> pd.DataFrame:
    """The snapshot index rows of one point, optionally of one step and one replicate.

    Args:
        run: the run read by :func:`load_run`.
        index: the point's position in ``run.points``.
        step: keep only the snapshots of this step (all when None).
        replicate: keep only the snapshots of this replicate (all when None).

    Returns:
        Rows of ``run.snapshots`` (columns path, point, replicate, step).
    """
    snaps = run.snapshots[run.snapshots["point"] == index]
    if step is not None:
        snaps = snaps[snaps["step"] == step]
    if replicate is not None:
        snaps = snaps[snaps["replicate"] == replicate]
    return snaps


def opinions(paths: Sequence[Path], field: str = "opinion") -> np.ndarray:
    """Axis 0 of ``field`` from the snapshots at ``paths``, concatenated (pooled).

    Args:
        paths: snapshot files (snapshots/*.npz).
        field: the array to read (``opinion``, ``exposure_extremeness``, ...).

    Returns:
        (sum of N over the snapshots,) float array; empty when ``paths`` is.
    """
    parts = [snapshot_field(Path(path), field) for path in paths]
    return np.concatenate(parts) if parts else np.empty(0)


@functools.lru_cache(maxsize=4096)
def snapshot_field(path: Path, field: str) -> np.ndarray:
    """Axis 0 of one snapshot's ``field`` (read once: several figures read the same snapshots).

    Args:
        path: a snapshot file.
        field: the array to read; an (N, K) array gives its column 0.

    Returns:
        (N,) array.
    """
    with np.load(path) as data:
        values = data[field]
        return values[:, 0] if values.ndim == 2 else values
