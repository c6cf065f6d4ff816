"""A scenario typed end to end: blocks are their types' Settings, loop settings apart,
validation once (variants and sweep points included), check hooks through their Protocols."""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pydantic
import pytest

import simlab
from simlab import registry
from simlab.config import Component, LoopSettings
from simlab.core.errors import ScenarioError
from simlab.core.protocols import ChecksFiles, ChecksScenario
from simlab.interventions.bridging import Bridging
from simlab.loop.simulation import Simulation
from simlab.running.tasks import Task, execute_task, make_tasks
from simlab.society.population import UniformPopulation

VALIDATIONS = {"population": 0}
CHECKS: list[Mapping[str, Any]] = []


class CountingPopulation(UniformPopulation):
    """A uniform population whose settings count how often they are validated."""

    class Settings(UniformPopulation.Settings):
        @pydantic.model_validator(mode="after")
        def _count(self) -> CountingPopulation.Settings:
            VALIDATIONS["population"] += 1
            return self


class FussyBridging(Bridging):
    """Bridging with a cross-component check (declared by implementing ChecksScenario)."""

    @staticmethod
    def check_scenario(scenario: Mapping[str, Any]) -> str | None:
        CHECKS.append(scenario)
        if scenario["recommender"]["type"] != "popularity":
            return f"expected recommender.type popularity for fussy_bridging, found {scenario['recommender']['type']}"
        return None


@pytest.fixture
def counting() -> Iterator[None]:
    registry.POPULATIONS.register("counting")(CountingPopulation)
    VALIDATIONS["population"] = 0
    yield
    registry.POPULATIONS.unregister("counting")


@pytest.fixture
def fussy() -> Iterator[None]:
    registry.INTERVENTIONS.register("fussy_bridging")(FussyBridging)
    CHECKS.clear()
    yield
    registry.INTERVENTIONS.unregister("fussy_bridging")


def test_blocks_are_settings_of_their_types(tiny):
    tiny["recommender"]["policy"] = {"type": "softmax", "temperature": 0.5}
    tiny["interventions"] = [{"type": "bridging"}]
    scenario = simlab.load_scenario(tiny)
    for kind, block in scenario.blocks().items():
        assert isinstance(block, Component)
        assert type(block.settings) is registry.ALL[kind].get(block.type).Settings, kind
    assert scenario.population.type == "uniform" and scenario.population.settings.size == 60
    assert isinstance(scenario.loop, LoopSettings)
    assert scenario.loop.slate_size == tiny["recommender"]["slate_size"]
    assert type(scenario.loop.policy.settings) is registry.POLICIES.get("softmax").Settings
    assert scenario.loop.policy.settings.temperature == 0.5
    assert type(scenario.interventions[0].settings) is Bridging.Settings
    # serialised, it is the YAML document again: the loop keys back in the recommender block
    doc = scenario.to_dict()
    assert "loop" not in doc
    assert doc["recommender"]["slate_size"] == tiny["recommender"]["slate_size"]
    assert doc["recommender"]["policy"] == {"type": "softmax", "temperature": 0.5}
    assert simlab.load_scenario(doc).config_hash() == scenario.config_hash()


def test_loop_is_not_a_yaml_key(tiny):
    tiny["loop"] = {"slate_size": 3}
    with pytest.raises(ScenarioError, match="unknown key") as error:
        simlab.load_scenario(tiny)
    assert error.value.key == "loop"


def test_each_point_is_validated_once_and_carried_as_models(tiny, counting, tmp_path):
    tiny["population"] = {"type": "counting", "size": 40}
    tiny["replicates"] = 2
    tiny["steps"] = 1
    tiny["variants"] = {"pop": {}, "rand": {"recommender.type": "random"}}
    tiny["sweep"] = {"population.size": [20, 30, 40]}
    scenario = simlab.load_scenario(tiny)
    points = scenario.task_points()
    assert len(points) == 6
    assert VALIDATIONS["population"] == 1 + 6  # the scenario, then each point once
    assert [p.scenario.population.settings.size for p in points] == [20, 30, 40] * 2
    assert scenario.task_points() is points  # expanded at load, not again

    tasks = make_tasks(scenario, tmp_path / "run", "cpu")
    assert len(tasks) == 12
    assert tasks[0].scenario is points[0].scenario  # the task carries the model
    sim = Simulation(tasks[0].scenario, 0, "cpu")
    assert sim.population.settings is points[0].scenario.population.settings  # built as it is
    assert sim.loop is points[0].scenario.loop
    status = execute_task(tasks[0])
    assert status["status"] == "complete", status.get("error")
    assert VALIDATIONS["population"] == 7  # neither making, building nor running a task validates


def test_a_task_pickles_with_its_models(tiny, tmp_path):
    scenario = simlab.load_scenario(tiny)
    (task,) = make_tasks(scenario, tmp_path, "cpu")[:1]
    copy = pickle.loads(pickle.dumps(task))
    assert isinstance(copy, Task)
    assert copy.config_hash() == task.config_hash()
    assert type(copy.scenario.population.settings) is type(task.scenario.population.settings)


def test_check_scenario_is_called_through_the_protocol(tiny, fussy):
    assert issubclass(FussyBridging, ChecksScenario)
    assert not issubclass(Bridging, ChecksScenario)  # a component without checks declares none
    tiny["interventions"] = [{"type": "bridging"}, {"type": "fussy_bridging"}]
    tiny["variants"] = {"pop": {}, "rand": {"recommender.type": "random"}}
    with pytest.raises(ScenarioError) as error:
        simlab.load_scenario(tiny)
    assert error.value.key == "variants.rand.interventions.1.type"
    assert "expected recommender.type popularity for fussy_bridging, found random" in str(error.value)
    assert len(CHECKS) == 3  # the scenario, variant pop, then variant rand (refused)
    assert isinstance(CHECKS[0], Mapping) and CHECKS[0]["interventions"][1]["type"] == "fussy_bridging"


def test_check_files_is_declared_by_the_file_types():
    assert issubclass(registry.POPULATIONS.get("file"), ChecksFiles)
    assert issubclass(registry.NETWORKS.get("edge_list"), ChecksFiles)
    assert not issubclass(registry.POPULATIONS.get("uniform"), ChecksFiles)


def test_a_combination_of_valid_overrides_is_refused_at_load(tiny):
    tiny["network"] = {"type": "watts_strogatz", "k": 4}
    tiny["variants"] = {"small": {"population.size": 10}, "big": {}}
    tiny["sweep"] = {"network.k": [4, 12]}  # k = 12 is fine with 40 users, not with 10
    with pytest.raises(ScenarioError) as error:
        simlab.load_scenario(tiny)
    assert error.value.key == "variants.small"
    assert "expected k < N = 10" in str(error.value) and "small|network.k=12" in str(error.value)


def test_scenario_hashes_match_runs_written_before_the_typed_scenario(tiny):
    """A run folder written by the code before this change (scenario.yaml, each task's
    status.json and checkpoint) resumes only if the hashes are the same: these were computed
    by that code for this scenario (at today's settings: a new setting changes the document, so
    the values were recomputed with the untyped loader when the assumption settings arrived)."""
    tiny["variants"] = {"pop": {}, "rand": {"recommender.type": "random", "recommender.slate_size": 3}}
    tiny["sweep"] = {"population.size": [20, 30]}
    scenario = simlab.load_scenario(tiny)
    assert scenario.config_hash() == "d78acac7a6ebfdfd"
    hashes = [t.config_hash() for t in make_tasks(scenario, Path("unused"), "cpu")]
    assert hashes == [
        "72d4973ed5294c37",
        "72d4973ed5294c37",
        "eaacaf80b5459247",
        "eaacaf80b5459247",
        "52f290064d82e5ee",
        "52f290064d82e5ee",
        "9e2fd3bd1168737c",
        "9e2fd3bd1168737c",
    ]


def test_a_setting_added_later_changes_the_hash_only_away_from_its_default(tiny):
    """ADDED_SETTINGS at their defaults are left out of the hashed document (runs written before
    they existed still resume); set to anything else they change the hash as any setting does."""
    base = simlab.load_scenario(tiny).config_hash()
    tiny["behavior"] = {**tiny.get("behavior", {}), "b_rel": 0.0}
    assert simlab.load_scenario(tiny).config_hash() == base
    tiny["behavior"]["b_rel"] = 1.0
    tiny["catalog"] = {**tiny["catalog"], "reliability": True}
    assert simlab.load_scenario(tiny).config_hash() != base
