"""Resource estimates (simlab.running.resources): the estimate against the peak RSS of real
tasks, measured in fresh subprocesses, and oversized scenarios refused before any work."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import simlab
from simlab.core.errors import ScenarioError
from simlab.running.resources import (
    BASE_BYTES,
    MEMORY_VARIABLE,
    available_memory,
    cgroup_memory_left,
    estimate,
    parse_size,
    plan,
    task_parts,
)

REPO = Path(__file__).resolve().parents[2]
MEASURE = r"""
import json, sys
import simlab
from simlab.loop.simulation import Simulation
from simlab.running.resources import estimate
scenario = simlab.load_scenario(json.loads(sys.argv[1]))
sim = Simulation(scenario, 0, "cpu")
for _ in range(scenario.steps):
    sim.step()
# VmHWM is this process image's own high-water mark; ru_maxrss would also count the parent's
# (pytest's) memory, which Linux carries over when the child is spawned by vfork + exec
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak": hwm * 1024,
                  "estimate": estimate(scenario).task_bytes}))
"""


def _measure(doc: dict) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(doc)], capture_output=True, text=True, check=True, cwd=REPO
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["peak"], result["estimate"]


def test_estimate_of_the_tiny_scenario_is_within_a_factor_of_two(tiny):
    peak, estimated = _measure(tiny)
    assert peak / 2 <= estimated <= 2 * peak, (peak, estimated)


@pytest.mark.slow
def test_estimate_of_a_medium_dlrm_scenario_is_within_a_factor_of_two(tiny):
    doc = copy.deepcopy(tiny) | {"steps": 5, "replicates": 1}
    doc["population"] = {"type": "uniform", "size": 20000, "activity": 0.5}
    doc["network"] = {"type": "erdos_renyi", "mean_degree": 10}
    doc["catalog"] = {"type": "default", "size": 5000, "topics": 8, "creators": 100, "new_per_step": 50}
    doc["recommender"] = {
        "type": "dlrm",
        "embedding_dim": 32,
        "bottom_mlp": [64, 32],
        "log_capacity": 200_000,
        "candidates": {"size": 100},
    }
    peak, estimated = _measure(doc)
    assert peak / 2 <= estimated <= 2 * peak, (peak, estimated)
    assert peak - BASE_BYTES > 150 << 20  # a scenario whose data, not the base, dominate


def test_parts_follow_the_shapes(tiny):
    """Hand-computed from the shapes: doubling N doubles the users' bytes, the log is
    log_capacity x (68 + 8H) bytes, candidates active x C x 48."""
    scenario = simlab.load_scenario(tiny)
    parts = task_parts(scenario)
    h = scenario.loop.history_length
    assert parts["log"] == scenario.loop.log_capacity * (68 + 8 * h)
    assert parts["candidates"] == 48 * 20 * 48  # ceil(60 * 0.8) active users x C = 20
    bigger = task_parts(simlab.load_scenario(tiny | {"population": tiny["population"] | {"size": 120}}))
    assert bigger["users"] == 2 * parts["users"]
    assert estimate(scenario).tasks == 2
    swept = simlab.load_scenario(tiny | {"sweep": {"population.size": [60, 600]}})
    assert estimate(swept).tasks == 4 and estimate(swept).parts["users"] == 10 * parts["users"]  # the largest


WIDE_DLRM = {
    "type": "dlrm",
    "embedding_dim": 4096,
    "bottom_mlp": [4096, 4096],
    "top_mlp": [4096, 4096, 1],
    "slate_size": 5,
    "candidates": {"size": 20},
}


@pytest.mark.parametrize(
    "change",
    [
        {"population": {"type": "uniform", "size": 100_000_000}},
        {"recommender": {"type": "popularity", "log_capacity": 10_000_000, "history_length": 1000}},
        {"catalog": {"type": "default", "size": 100_000_000}},
        {"network": {"type": "erdos_renyi", "mean_degree": 1e6}, "population": {"type": "uniform", "size": 1_000_000}},
        # issue 27: the dimensions the first estimate missed (each killed by the OS, or tried to
        # allocate tens of GB, after the run had started)
        {"recommender": {"type": "als", "rank": 4096, "slate_size": 5, "candidates": {"size": 20}}},
        {
            "recommender": WIDE_DLRM | {"embedding_dim": 16, "bottom_mlp": [65536, 16]},
            "population": {"type": "uniform", "size": 1000},
        },
        {"catalog": {"type": "default", "size": 1_000_000, "taste_dims": 4096}},
        {
            "recommender": {"type": "dlrm", "embedding_dim": 4096, "bottom_mlp": [64, 4096]},
            "catalog": {"type": "default", "size": 100_000},
        },
    ],
)
def test_oversized_scenarios_are_refused_quickly(change, tiny):
    scenario = simlab.load_scenario(tiny | change)
    started = time.perf_counter()
    with pytest.raises(
        ScenarioError, match=r"estimated peak memory ~[0-9.]+ [GT]iB per task .* exceeds the --max-memory"
    ):
        plan(scenario, workers=1, max_memory=parse_size("4G"))
    assert time.perf_counter() - started < 1


def test_workers_are_capped_by_memory_and_tasks(tiny):
    scenario = simlab.load_scenario(tiny | {"replicates": 8})
    task = estimate(scenario).task_bytes
    assert plan(scenario, 1, 10 * task) == (1, None)
    workers, note = plan(scenario, 1000, 100 * task)
    assert workers == 8 and "8 tasks" in note
    workers, note = plan(scenario, 8, BASE_BYTES + 3 * task)
    assert workers == 3 and "of memory" in note


def test_workers_default_to_the_usable_cores_capped_by_tasks_and_memory(tiny, monkeypatch):
    from simlab.running import resources

    monkeypatch.delenv("SIMLAB_WORKERS", raising=False)  # the suite sets it to 1 (tests/conftest.py)
    monkeypatch.setattr(resources, "usable_cores", lambda: 6)
    assert resources.default_workers() == 6
    scenario = simlab.load_scenario(tiny | {"replicates": 4})
    task = estimate(scenario).task_bytes
    assert plan(scenario, None, 100 * task) == (4, None)  # 4 tasks on 6 cores: nothing to say
    workers, note = plan(scenario, None, BASE_BYTES + 2 * task)
    assert workers == 2 and "of memory" in note  # memory caps the default: said
    monkeypatch.setenv("SIMLAB_WORKERS", "3")
    assert resources.default_workers() == 3 and plan(scenario, None, 100 * task) == (3, None)
    monkeypatch.setenv("SIMLAB_WORKERS", "many")
    with pytest.raises(ScenarioError, match=r"\$SIMLAB_WORKERS: expected an integer >= 1, found 'many'"):
        resources.default_workers()


def test_usable_cores_are_the_affinity_mask():
    import os

    from simlab.running.resources import usable_cores

    assert usable_cores() == len(os.sched_getaffinity(0)) >= 1


@pytest.mark.parametrize(("text", "size"), [("2G", 2 << 30), ("512M", 512 << 20), ("1.5GB", 3 << 29), ("1000", 1000)])
def test_parse_size(text, size):
    assert parse_size(text) == size
    with pytest.raises(ScenarioError, match="--max-memory"):
        parse_size("-1G")


def test_the_refusal_says_how_to_raise_the_budget(tiny, monkeypatch):
    scenario = simlab.load_scenario(tiny | {"recommender": WIDE_DLRM})
    with pytest.raises(ScenarioError) as refused:
        plan(scenario, workers=1, max_memory=parse_size("1G"))
    message = str(refused.value)
    assert "(model " in message and "exceeds the --max-memory of 1.0 GiB" in message
    assert f"raise the budget with --max-memory or {MEMORY_VARIABLE} (e.g. {MEMORY_VARIABLE}=2G)" in message
    monkeypatch.setenv(MEMORY_VARIABLE, "1G")
    with pytest.raises(ScenarioError, match=f"exceeds the {MEMORY_VARIABLE} of 1.0 GiB"):
        plan(scenario, workers=1)
    monkeypatch.setenv(MEMORY_VARIABLE, "2G")  # raised: the same scenario goes ahead
    assert plan(scenario, workers=1) == (1, None)
    monkeypatch.setenv(MEMORY_VARIABLE, "lots")
    with pytest.raises(ScenarioError, match=f"^{MEMORY_VARIABLE}: expected a size like 2G or 512M, found 'lots'$"):
        plan(scenario, workers=1)


def _fake_machine(root, cgroup_line, files):
    """A /proc and /sys/fs/cgroup of a machine whose memory cgroup has the given files."""
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text("MemTotal: 67108864 kB\nMemAvailable: 33554432 kB\n")
    (root / "proc" / "self" / "cgroup").write_text(cgroup_line + "\n")
    for relative, text in files.items():
        (root / "sys" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "sys" / relative).write_text(text)
    return root / "proc", root / "sys"


def test_the_memory_cgroup_limit_bounds_the_budget(tmp_path):
    """A container with 32 GiB free on the machine but a 4 GiB cgroup limit: the budget is what
    the limit leaves (usage less reclaimable file cache), at the tightest of the group and its
    ancestors, in cgroup v2 and v1."""
    gib = 1 << 30
    v2 = _fake_machine(
        tmp_path / "v2",
        "0::/jobs/run",
        {
            "jobs/memory.max": str(4 * gib),
            "jobs/memory.current": str(2 * gib),
            "jobs/run/memory.max": "max",
            "jobs/run/memory.current": str(gib),
            "jobs/run/memory.stat": f"anon 1\ninactive_file {gib // 2}\n",
        },
    )
    assert cgroup_memory_left(*v2) == 2 * gib  # the parent's limit, less its usage
    assert available_memory(*v2) == 2 * gib  # below MemAvailable's 32 GiB
    v1 = _fake_machine(
        tmp_path / "v1",
        "4:memory:/jobs",
        {
            "memory/jobs/memory.limit_in_bytes": str(4 * gib),
            "memory/jobs/memory.usage_in_bytes": str(3 * gib),
            "memory/jobs/memory.stat": f"total_inactive_file {gib}\n",
            "memory/memory.limit_in_bytes": "9223372036854771712",  # the root: unlimited
        },
    )
    assert cgroup_memory_left(*v1) == 2 * gib
    unlimited = _fake_machine(tmp_path / "none", "0::/", {"memory.max": "max"})
    assert cgroup_memory_left(*unlimited) is None and available_memory(*unlimited) == 32 * gib


@pytest.mark.slow
@pytest.mark.parametrize(
    "change",
    [
        {"catalog": {"type": "default", "size": 3_000_000}, "steps": 3},
        {"recommender": WIDE_DLRM | {"embedding_dim": 1024, "bottom_mlp": [1024, 1024], "top_mlp": [1024, 1024, 1]}},
        {"recommender": {"type": "als", "rank": 256, "slate_size": 5, "candidates": {"size": 20}}},
    ],
)
def test_estimates_of_the_large_dimensions_are_within_a_factor_of_two(change, tiny):
    doc = copy.deepcopy(tiny) | {"steps": 2, "replicates": 1} | change
    peak, estimated = _measure(doc)
    assert peak / 2 <= estimated <= 2 * peak, (peak, estimated)
    assert peak - BASE_BYTES > 150 << 20  # the dimension, not the base, dominates
