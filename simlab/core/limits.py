"""Input limits: how big a scenario, its data files and its run may be before simlab refuses.

Every limit has a default sized for real scenarios with a wide margin and can be raised for one
shell with an environment variable ``SIMLAB_MAX_<NAME>`` (e.g. ``SIMLAB_MAX_TASKS=50000``).
A refusal names the limit and its variable, so the user knows what to raise.
"""

from __future__ import annotations

import os

from simlab.core.errors import ScenarioError

DEFAULTS: dict[str, int] = {
    # bytes of a scenario YAML file (real scenarios are a few kB)
    "document_bytes": 1 << 20,
    # YAML nodes after alias expansion (an alias counts its whole subtree at every use)
    "yaml_nodes": 100_000,
    # nesting depth of YAML collections (scenarios nest about 5 deep)
    "yaml_depth": 64,
    # decimal digits of a YAML integer (seeds need at most 19)
    "integer_digits": 100,
    # bytes of a population or edge-list file (read whole at validate time)
    "data_file_bytes": 1 << 30,
    # variants x sweep points (each one a validated scenario)
    "grid": 10_000,
    # tasks of a run: variants x sweep points x replicates
    "tasks": 100_000,
}


def env_name(name: str) -> str:
    """The environment variable that overrides limit ``name`` (``SIMLAB_MAX_<NAME>``)."""
    return f"SIMLAB_MAX_{name.upper()}"


def limit(name: str) -> int:
    """The current value of limit ``name`` (its environment variable, else the default)."""
    raw = os.environ.get(env_name(name))
    if raw is None or not raw.strip():
        return DEFAULTS[name]
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ScenarioError(f"expected a positive integer, found {raw[:40]!r}", file=env_name(name))
    return value


def hint(name: str) -> str:
    """How to raise limit ``name``, for the end of a refusal message."""
    return f"limit {name} = {limit(name)}; raise it with {env_name(name)}"
