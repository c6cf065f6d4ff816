"""simlab: closed-loop simulation of engagement-optimising recommenders and opinion dynamics.

Python API (docs/design.md §3): ``simlab.load_scenario(path_or_dict)``, ``simlab.run(scenario,
**overrides)`` returning a result with ``.metrics`` and ``.path``; ``simlab.metrics`` (pure
measure functions) and ``simlab.society.dynamics.fj_equilibrium``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_scenario(source: Any, overrides: dict[str, Any] | None = None):
    """Load and validate a scenario from a YAML path or a dict (see simlab.config)."""
    from simlab.config import load_scenario as _load

    return _load(source, overrides)


def run(scenario: Any, **kwargs: Any):
    """Run a scenario (path, dict or Scenario) and write its run folder; see simlab.running.run.

    Keyword arguments: out, replicates, seed, steps, device, workers, quiet, overrides
    (a dict of dotted keys), and any other keyword is taken as a dotted-key override with
    '__' for '.', e.g. ``recommender__type="random"``.
    """
    from simlab.running import run as _run

    known = {"out", "replicates", "seed", "steps", "device", "workers", "quiet", "overrides", "backend", "address"}
    overrides = dict(kwargs.pop("overrides", None) or {})
    for key in [k for k in kwargs if k not in known]:
        overrides[key.replace("__", ".")] = kwargs.pop(key)
    return _run(scenario, overrides=overrides, **kwargs)


def __getattr__(name: str):
    if name in ("metrics", "dynamics"):
        import importlib

        return importlib.import_module(f"simlab.{name}")
    raise AttributeError(name)
