"""Resource estimates before a run: peak memory per task, task count, and how many workers fit.

:func:`estimate` adds up the arrays a task allocates, from the resolved scenario alone (nothing
is built), for every dimension a scenario can make large:

- users: N x (8K + 4T + 8D + 8H + ~60) bytes (opinions, innate opinions, interests, latent
  tastes, history, counters);
- the catalog at its final capacity M (initial size + new_per_step x steps, grown by doubling):
  3 x (4K + 4D + 44) bytes an item (its columns, and the per-step temporaries over the whole
  catalog: scores, popularity, rankings);
- the impression log: log_capacity x (68 + 8H) bytes, twice for a trained recommender that
  gathers its window; one step's candidates: active users x C x ~48 bytes (~250 for the DLRM);
- the graph: directed edge entries x ~100 bytes while it is built (networkx generators ~1 kB);
- ALS: factors (N + M) x rank x 4 bytes x 3, and its batched ridge solve,
  (3 max(N, M) + min(E, 32768)) x (rank + 1)^2 x 4 bytes (E observed entries): every row's normal
  equations at once, their copy for the solve, one chunk of outer products;
- the DLRM: its parameters (embedding rows x dim plus every MLP layer's in x out) x 4 bytes x
  (5 + optimiser states: weights, gradients, three temporaries), the activations of one scoring
  chunk (pairs x (3 dim + top input + 2 x widest layer) x 8 bytes, pairs = min(active x C,
  pairs_per_chunk), plus M x (3 dim + first bottom width) x 8 for the item side) and of one
  training batch (batch x (5 dim + every layer's width) x 12 bytes);
- a snapshot. A process that imported simlab and torch, loaded a scenario and built a Simulation
  holds a base of ~400 MiB before any of that (measured: 305 MiB after the imports alone).

Calibration (peak RSS of one task in a fresh subprocess, CPU, torch 2.x, re-measured by
tests/running/test_resources.py; numbers from the sessions that wrote this):

=====================================================================  ========  ========
scenario (steps)                                                       measured  estimate
=====================================================================  ========  ========
tests' tiny scenario: 60 users, popularity (4)                          443 MiB   443 MiB
20,000 users, 5,000 items, ER d=10, DLRM dim 32, log 200k, C=100 (5)    731 MiB   799 MiB
100,000 users, 20,000 items, ER d=20, popularity, log 1M, C=200 (3)    1082 MiB  1298 MiB
60 users, 3,000,000 items, popularity (3)                               914 MiB  1073 MiB
60 users, DLRM dim 1024, bottom [1024, 1024], top [1024, 1024, 1] (2)   723 MiB   649 MiB
600 users, DLRM dim 2048, bottom [2048, 2048], top [2048, 2048, 1] (2) 1377 MiB  1776 MiB
60 users, DLRM dim 4096, bottom [4096, 4096], top [4096, 4096, 1] (2)  1855 MiB  1999 MiB
60 users, ALS rank 256 (2)                                              671 MiB   729 MiB
=====================================================================  ========  ========

The per-pair bytes of DLRM candidates (250) were fitted on the second row, the catalog's factor
3 on the fourth and the DLRM's three temporaries on the fifth to seventh; the others are counted
from the arrays' shapes. The estimate errs high for large logs (the preallocated log is counted
full; its pages are only touched as it fills). Tests assert agreement within a factor of 2.

:func:`plan` turns the estimate into a decision: refuse the run (one line with the estimate and
how to raise the budget) when one task does not fit the memory budget, and cap the workers at
what memory and the task count allow. The budget is ``--max-memory``, else the environment
variable ``SIMLAB_MAX_MEMORY``, else the memory available to this process: the smaller of
``/proc/meminfo`` MemAvailable and what its cgroup's memory limit leaves (a container or a
systemd slice kills a process at its cgroup limit, whatever the machine has free).
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from simlab.config import Scenario
from simlab.core.errors import ScenarioError

BASE_BYTES = 400 << 20  # a process that loaded a scenario and built a Simulation, measured (see the docstring)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass
class Estimate:
    """Peak bytes of the largest task (``task_bytes``, base process included), the number of
    tasks, and the parts of the largest task by name.
    """

    task_bytes: int
    tasks: int
    parts: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])[:3]
        detail = ", ".join(f"{name} {format_size(size)}" for name, size in top if size >= 1 << 20)
        return f"~{format_size(self.task_bytes)} per task" + (f" ({detail})" if detail else "")


def format_size(n: float) -> str:
    """``n`` bytes in binary units (``"512 B"``, ``"1.5 GiB"``)."""
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


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers and ``taskset``
    narrow), else the machine's count; at least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on this platform
        return max(1, os.cpu_count() or 1)


MEMORY_VARIABLE = "SIMLAB_MAX_MEMORY"


def available_memory(proc: Path = Path("/proc"), cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process may still allocate: the smaller of MemAvailable (/proc/meminfo) and
    what its memory cgroup leaves; None when neither is known (not Linux).
    """
    found = [n for n in (_mem_available(proc), cgroup_memory_left(proc, cgroups)) if n is not None]
    return min(found) if found else None


def _mem_available(proc: Path) -> int | None:
    try:
        with open(proc / "meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cgroup_memory_left(proc: Path = Path("/proc"), cgroups: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Memory left under the tightest memory limit of this process's cgroup and its ancestors
    (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``), less what the group uses apart
    from reclaimable file cache; None without a limit.
    """
    try:
        lines = (proc / "self" / "cgroup").read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    left: list[int] = []
    for line in lines:
        number, controllers, group = [*line.split(":", 2), "", ""][:3]
        if number == "0" and controllers == "":  # v2: one unified hierarchy
            root, names = cgroups, ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # v1: the memory controller's own hierarchy
            root, names = cgroups / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        folder = root / group.lstrip("/")
        while True:  # this group and each ancestor up to the hierarchy's root
            limit = _read_number(folder / names[0])
            if limit is not None and limit < 1 << 60:  # "max", or v1's "unlimited" near 2**63
                usage = _read_number(folder / names[1]) or 0
                cache = _stat(folder / "memory.stat", names[2])
                left.append(max(0, limit - max(0, usage - cache)))
            if folder == root or root not in folder.parents:
                break
            folder = folder.parent
    return min(left) if left else None


def _read_number(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError, UnicodeDecodeError):
        return 0
    return 0


def _edges(scenario: Scenario, n: int) -> tuple[float, float]:
    """(directed edge entries, bytes per entry while building) of the scenario's graph."""
    from simlab.society.network import edge_list_size

    net = scenario.network.to_dict()
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

    doc = scenario.to_dict()  # the blocks as in the YAML (the recommender's with its loop settings)
    pop, cat, rec = doc["population"], doc["catalog"], doc["recommender"]
    n = population_size(pop)
    k = pop.get("axes") or 1
    t = cat.get("topics", 8)
    d = cat.get("taste_dims", 0)  # latent tastes of users and attributes of items
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
        "users": n * (8 * k + 4 * t + 8 * d + 8 * h + 60),
        # an item's columns, and the per-step temporaries over the whole catalog (scores,
        # popularity, rankings): measured ~3x the columns
        "catalog": capacity * (4 * k + 4 * d + 44) * 3,
        "log": rec["log_capacity"] * (68 + 8 * h) * (2 if trained else 1),
        # DLRM gathers features and activations per (user, candidate) pair: ~250 bytes measured
        "candidates": active * rec["candidates"]["size"] * (250 if rec["type"] == "dlrm" else 48),
        "graph": int(edges * edge_bytes),
        "snapshot": 2 * 4 * k * (n + capacity),
    }
    if rec["type"] == "dlrm":
        parts.update(_dlrm_parts(rec, n + 2 * capacity + cat.get("creators", 0) + t, capacity, active))
    elif rec["type"] == "als":
        rank = rec["rank"]
        parts["model"] = (n + capacity) * rank * 4 * 3
        # every row's (rank + 1)^2 normal equations at once, their copy for the solve, and one
        # chunk of outer products over the observed entries (recommenders/als.py: als_solve)
        observed = min(rec["log_capacity"], active * rec["slate_size"] * scenario.steps, 1 << 15)
        parts["solve"] = (3 * max(n, capacity) + observed) * (rank + 1) ** 2 * 4
    else:
        parts["model"] = capacity * 8 * 4
    return parts


_OPTIMISER_STATES = {"sgd": 0, "adagrad": 1, "adam": 2}


def _dlrm_parts(rec: dict, rows: int, capacity: int, active: int) -> dict[str, int]:
    """The DLRM's parameters (embedding tables and MLPs, with gradients, optimiser state and three
    temporary copies), one scoring chunk's and one training batch's activations (see the module
    docstring); ``rows`` is the embedding rows of all tables.
    """
    from simlab.core.view import N_ITEM_DENSE, N_USER_DENSE

    dim, bottom, top = rec["embedding_dim"], list(rec["bottom_mlp"]), list(rec["top_mlp"])
    vectors = 6  # the dense vector x and the five sparse features
    if rec["interaction"] == "dot":
        top_in = bottom[-1] + vectors * (vectors - 1 + (2 if rec["self_interaction"] else 0)) // 2
    else:
        top_in = bottom[-1] + (vectors - 1) * dim
    layers = [N_USER_DENSE + N_ITEM_DENSE, *bottom], [top_in, *top]
    mlp = sum(a * b + b for widths in layers for a, b in itertools.pairwise(widths))
    widest = max(*bottom, *top, top_in)
    pairs = active * rec["candidates"]["size"]
    chunk = min(pairs, rec["pairs_per_chunk"])
    return {
        "model": (rows * dim + mlp) * 4 * (5 + _OPTIMISER_STATES.get(rec["optimizer"], 2)),
        "scoring": chunk * (3 * dim + top_in + 2 * widest) * 8 + capacity * (3 * dim + bottom[0]) * 8,
        "training": rec["batch_size"] * (5 * dim + top_in + sum(bottom) + sum(top)) * 12,
    }


def estimate(scenario: Scenario) -> Estimate:
    """The estimate for the largest task of the scenario (variants and sweep points may differ
    in size) and the number of tasks.
    """
    points = scenario.tasks()
    best: dict[str, int] = {}
    for _, point in points:
        parts = task_parts(point)
        if sum(parts.values()) >= sum(best.values()):
            best = parts
    return Estimate(BASE_BYTES + sum(best.values()), len(points) * scenario.replicates, best)


def memory_budget(max_memory: int | None = None) -> tuple[int | None, str]:
    """(bytes a task may use, where that number comes from): ``--max-memory``, else the
    environment variable SIMLAB_MAX_MEMORY, else :func:`available_memory`.
    """
    if max_memory is not None:
        return max_memory, "--max-memory"
    raw = os.environ.get(MEMORY_VARIABLE, "").strip()
    if raw:
        try:
            return parse_size(raw), MEMORY_VARIABLE
        except ScenarioError:
            raise ScenarioError(f"expected a size like 2G or 512M, found {raw[:40]!r}", file=MEMORY_VARIABLE) from None
    return available_memory(), "available memory (MemAvailable, cgroup limit)"


def default_workers() -> int:
    """Workers when none are asked for: $SIMLAB_WORKERS if set (an integer >= 1), else
    :func:`usable_cores`.
    """
    text = os.environ.get("SIMLAB_WORKERS", "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ScenarioError(f"expected an integer >= 1, found {text!r}", file="$SIMLAB_WORKERS")
        return int(text)
    return usable_cores()


def plan(
    scenario: Scenario, workers: int | None, max_memory: int | None = None, backend: str = "local"
) -> tuple[int, str | None]:
    """(workers to use, a note when they were capped). ``workers`` None: :func:`default_workers`,
    capped without a note unless memory is what caps them. Raises ScenarioError when one task does
    not fit in the memory budget (:func:`memory_budget`).
    """
    asked = workers is not None
    workers = default_workers() if workers is None else workers
    found = estimate(scenario)
    budget, source = memory_budget(max_memory)
    if budget is not None and found.task_bytes > budget:
        raise ScenarioError(
            f"estimated peak memory {found.describe()} exceeds the {source} of {format_size(budget)}; "
            f"make the scenario smaller, or raise the budget with --max-memory or {MEMORY_VARIABLE} "
            f"(e.g. {MEMORY_VARIABLE}={math.ceil(found.task_bytes / (1 << 30))}G) if the machine has the memory",
            file=scenario.source,
        )
    allowed = min(workers, max(found.tasks, 1))
    if backend == "local" and budget is not None and allowed > 1:
        # workers > 1: the parent process plus one process per worker, each a task
        allowed = max(1, min(allowed, (budget - BASE_BYTES) // found.task_bytes))
    if allowed >= workers:
        return workers, None
    if allowed == min(workers, found.tasks) and not asked:  # fewer tasks than cores: nothing to say
        return allowed, None
    why = f"{found.tasks} tasks" if allowed == found.tasks else f"{format_size(budget or 0)} of memory"
    return allowed, f"note: using {allowed} workers instead of {workers} ({why}; {found.describe()})"
