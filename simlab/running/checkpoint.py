"""Task checkpoints: the full state of one running task, written atomically.

A checkpoint is ``tasks/<id>/checkpoint.pt``, a ``torch.save`` of plain containers and tensors
only (it loads with ``torch.load(weights_only=True)``; nothing in it is unpickled as code)::

    {
      "format": "simlab-checkpoint", "version": 1,
      "task": task id, "config_hash": hash of the task's resolved scenario,
      "step": steps completed (Simulation.t),
      "metric_rows": rows already streamed to tasks/<id>/metrics.csv,
      "metric_bytes": that file's size after those rows (header included),
      "state": Simulation.state_dict()   # opinions, catalog, log, recommender weights and
                                         # optimiser state, recorder, every RNG stream
    }

On resume the task's metrics.csv is truncated to ``metric_bytes`` (rows written after the last
checkpoint are recomputed, identically, from the restored state).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch

from simlab.running.files import atomic_write

FORMAT = "simlab-checkpoint"
VERSION = 1
FILENAME = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be used (unreadable, another format, another task)."""


def task_hash(scenario: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of a scenario document (what ``--resume`` compares)."""
    return hashlib.sha256(json.dumps(scenario, sort_keys=True).encode()).hexdigest()[:16]


def save(path: Path, *, task: str, config_hash: str, step: int, rows: int, nbytes: int, state: dict) -> None:
    """Write the checkpoint atomically (:func:`~simlab.running.files.atomic_write`)."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "task": task,
        "config_hash": config_hash,
        "step": int(step),
        "metric_rows": int(rows),
        "metric_bytes": int(nbytes),
        "state": state,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(path, buffer.getbuffer())


def load(path: Path, *, task: str, config_hash: str, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint (``weights_only=True``: tensors and plain containers only)."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a simlab checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')}, expected {VERSION}")
    if payload.get("task") != task:
        raise CheckpointError(f"{path}: checkpoint of task {payload.get('task')!r}, expected {task!r}")
    if payload.get("config_hash") != config_hash:
        raise CheckpointError(f"{path}: the task's scenario changed since the checkpoint was written")
    for name in ("step", "metric_rows", "metric_bytes"):  # a damaged field must not reach os.truncate
        value = payload.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{path}: damaged checkpoint, {name} is not a non-negative integer")
    if not isinstance(payload.get("state"), dict):
        raise CheckpointError(f"{path}: damaged checkpoint, no state")
    return payload
