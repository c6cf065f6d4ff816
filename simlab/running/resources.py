"""Resource estimates before a run: peak memory per task, task count, and how many workers fit.

:func:`estimate` adds up the arrays a task allocates, from the resolved scenario alone (nothing
is built): users (N x (8K + 4T + 8H + ~60) bytes: opinions, innate opinions, interests, history,
counters), the catalog at its final capacity (initial size + new_per_step x steps, grown by
doubling), the impression log (log_capacity x (68 + 8H) bytes, twice for a trained recommender
that gathers its window), one step's candidates (active users x C x ~48 bytes of ids, features
and scores), the graph (directed edge entries x ~100 bytes while it is built; networkx
generators ~1 kB per edge), the recommender's tables (DLRM embedding rows x dim x 4 bytes x 3
for weights, gradients and optimiser state; ALS factors (N + M) x rank likewise) and a snapshot.
A process that imported simlab and torch, loaded a scenario and built a Simulation holds a base
of ~400 MiB before any of that (measured: 305 MiB after the imports alone).

Calibration (peak RSS of one task via ``resource.getrusage`` in a fresh subprocess, CPU, torch
2.x, re-measured by tests/running/test_resources.py; numbers from the session that wrote this):

=====================================================================  ========  ========
scenario (steps)                                                       measured  estimate
=====================================================================  ========  ========
tests' tiny scenario: 60 users, popularity (4)                          443 MiB   444 MiB
20,000 users, 5,000 items, ER d=10, DLRM dim 32, log 200k, C=100 (5)    731 MiB   762 MiB
100,000 users, 20,000 items, ER d=20, popularity, log 1M, C=200 (3)    1082 MiB  1293 MiB
=====================================================================  ========  ========

The per-pair bytes of DLRM scoring (250) were fitted on the second row; the others are counted
from the arrays' shapes. The estimate errs high for large logs (the preallocated log is counted
full; its pages are only touched as it fills). Tests assert agreement within a factor of 2.

:func:`plan` turns the estimate into a decision: refuse the run (one line with the estimate)
when one task does not fit the memory available (``/proc/meminfo`` MemAvailable, or
``--max-memory``), and cap the workers at what memory and the task count allow.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from simlab.config import Scenario
from simlab.core.errors import ScenarioError

BASE_BYTES = 400 << 20  # a process that loaded a scenario and built a Simulation, measured (see the docstring)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass
class Estimate:
    """Peak bytes of the largest task (``task_bytes``, base process included), the number of
    tasks, and the parts of the largest task by name."""

    task_bytes: int
    tasks: int
    parts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])[:3]
        detail = ", ".join(f"{name} {format_size(size)}" for name, size in top if size >= 1 << 20)
        return f"~{format_size(self.task_bytes)} per task" + (f" ({detail})" if detail else "")


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def parse_size(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"1.5GB"``, ``"1000000"`` -> bytes (binary units)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)i?B?\s*", str(text), flags=re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ScenarioError(f"expected a size like 2G or 512M, found {str(text)[:40]!r}", file="--max-memory")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes (None where there is no such file)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _edges(scenario: Scenario, n: int) -> tuple[float, float]:
    """(directed edge entries, bytes per entry while building) of the scenario's graph."""
    from simlab.society.network import edge_list_size

    net = scenario.network
    kind = net["type"]
    if kind == "erdos_renyi":
        return min(net["mean_degree"], n - 1) * n, 100
    if kind == "watts_strogatz":
        return net["k"] * n, 100
    if kind == "barabasi_albert":
        return 2 * net["m"] * n, 1000  # networkx: dicts per node and edge
    if kind == "sbm":
        if net.get("p_in") is not None:
            b = net["blocks"]
            return net["p_in"] * n * n / b + net["p_out"] * n * n * (1 - 1 / b), 100
        return min(net["mean_degree"], n - 1) * n, 100
    if kind == "edge_list":
        return 2 * edge_list_size(net["path"], n, net["directed"]), 150
    if kind == "karate_club":
        return 156, 1000
    return 0, 0  # "none", or a plugin's graph: not estimated


def task_parts(scenario: Scenario) -> dict[str, int]:
    """Bytes of the main allocations of one task of ``scenario`` (see the module docstring)."""
    from simlab.society.population import population_size

    pop, cat, rec = scenario.population, scenario.catalog, scenario.recommender
    n = population_size(pop)
    k = pop.get("axes") or 1
    t = cat.get("topics", 8)
    h = rec["history_length"]
    per_step = cat.get("new_per_step", 0)
    needed = cat.get("size", 0) + per_step * scenario.steps
    capacity = cat.get("size", 0) + 16 * max(per_step, 1)
    while capacity < needed:  # Catalog.append doubles
        capacity *= 2
    active = min(n, math.ceil(n * min(1.0, pop.get("activity", 1.0) + pop.get("activity_spread", 0.0))))
    trained = rec["type"] in ("dlrm", "als")
    edges, edge_bytes = _edges(scenario, n)
    parts = {
        "users": n * (8 * k + 4 * t + 8 * h + 60),
        "catalog": capacity * (4 * k + 44),
        "log": rec["log_capacity"] * (68 + 8 * h) * (2 if trained else 1),
        # DLRM gathers features and activations per (user, candidate) pair: ~250 bytes measured
        "candidates": active * rec["candidates"]["size"] * (250 if rec["type"] == "dlrm" else 48),
        "graph": int(edges * edge_bytes),
        "snapshot": 2 * 4 * k * (n + capacity),
    }
    if rec["type"] == "dlrm":
        rows = n + 2 * capacity + cat.get("creators", 0) + t
        parts["model"] = rows * rec["embedding_dim"] * 4 * 3
    elif rec["type"] == "als":
        parts["model"] = (n + capacity) * rec["rank"] * 4 * 3
    else:
        parts["model"] = capacity * 8 * 4
    return parts


def estimate(scenario: Scenario) -> Estimate:
    """The estimate for the largest task of the scenario (variants and sweep points may differ
    in size) and the number of tasks."""
    points = scenario.tasks()
    best: dict[str, int] = {}
    for _, point in points:
        parts = task_parts(point)
        if sum(parts.values()) >= sum(best.values()):
            best = parts
    return Estimate(BASE_BYTES + sum(best.values()), len(points) * scenario.replicates, best)


def plan(
    scenario: Scenario, workers: int, max_memory: int | None = None, backend: str = "local"
) -> tuple[int, str | None]:
    """(workers to use, a note when they were capped). Raises ScenarioError when one task does
    not fit in ``max_memory`` (default: the machine's available memory)."""
    found = estimate(scenario)
    budget = max_memory if max_memory is not None else available_memory()
    source = "--max-memory" if max_memory is not None else "available memory (MemAvailable)"
    if budget is not None and found.task_bytes > budget:
        raise ScenarioError(
            f"estimated peak memory {found.describe()} exceeds the {source} of {format_size(budget)}; "
            "make the scenario smaller or raise --max-memory",
            file=scenario.source,
        )
    allowed = min(workers, max(found.tasks, 1))
    if backend == "local" and budget is not None and allowed > 1:
        # workers > 1: the parent process plus one process per worker, each a task
        allowed = max(1, min(allowed, (budget - BASE_BYTES) // found.task_bytes))
    if allowed >= workers:
        return workers, None
    why = f"{found.tasks} tasks" if allowed == found.tasks else f"{format_size(budget or 0)} of memory"
    return allowed, f"note: using {allowed} workers instead of {workers} ({why}; {found.describe()})"
