"""Scenario loading: defaults, overrides, variants, sweeps and clear errors."""

from __future__ import annotations

import pytest
import yaml

import simlab
from simlab.config import apply_overrides, parse_set
from simlab.core.errors import ScenarioError


def test_defaults_are_filled(tiny):
    scenario = simlab.load_scenario({"name": "d"})
    doc = scenario.to_dict()
    assert doc["dynamics"]["type"] == "assimilation"
    assert doc["recommender"]["slate_size"] == 10
    assert doc["recommender"]["candidates"]["size"] == 100
    assert doc["population"]["size"] == 1000
    # the resolved document loads back to the same scenario
    assert simlab.load_scenario(yaml.safe_load(yaml.safe_dump(doc))).config_hash() == scenario.config_hash()


def test_dotted_overrides_and_type_switch(tiny):
    scenario = simlab.load_scenario(tiny, {"population.size": 30, "recommender.type": "oracle"})
    assert scenario.population.settings.size == 30
    assert scenario.recommender.type == "oracle"
    assert scenario.loop.slate_size == 5


def test_parse_set_reads_yaml_scalars():
    assert parse_set(["a.b=3", "c=0.5", "d=true", "e=[1, 2]", "f=text"]) == {
        "a.b": 3,
        "c": 0.5,
        "d": True,
        "e": [1, 2],
        "f": "text",
    }
    with pytest.raises(ScenarioError, match=r"dotted\.key=value"):
        parse_set(["novalue"])


def test_apply_overrides_nested_and_dotted_agree():
    doc = {"population": {"type": "uniform", "size": 5}}
    assert apply_overrides(doc, {"population": {"size": 7}}) == apply_overrides(doc, {"population.size": 7})


def test_variants_and_sweep_expand_to_tasks(tiny):
    tiny["variants"] = {"pop": {}, "rand": {"recommender.type": "random"}}
    tiny["sweep"] = {"population.size": [20, 30]}
    tasks = simlab.load_scenario(tiny).tasks()
    labels = [(label, s.population.settings.size, s.recommender.type) for label, s in tasks]
    assert labels == [
        ("pop|population.size=20", 20, "popularity"),
        ("pop|population.size=30", 30, "popularity"),
        ("rand|population.size=20", 20, "random"),
        ("rand|population.size=30", 30, "random"),
    ]


def _error(tmp_path, text: str | bytes) -> ScenarioError:
    path = tmp_path / "s.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ScenarioError) as info:
        simlab.load_scenario(path)
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        ("name: x\npopulation:\n  type: uniform\n  sizee: 10\n", 4, "population.sizee", "unknown key"),
        ("name: x\nsteps: five\n", 2, "steps", "found 'five'"),
        ("name: x\npopulation:\n  size: -4\n", 3, "population.size", "greater than 0"),
        ("name: x\nrecommender:\n  type: nope\n", 3, "recommender.type", "expected one of"),
        ("name: x\nbogus: 1\n", 2, "bogus", "unknown key"),
        (
            "name: x\nvariants:\n  a:\n    recommender: {type: random, slate_size: 0}\n",
            4,
            "variants.a.recommender.slate_size",
            "greater than or equal to 1",
        ),
        ("name: x\nmetrics:\n  include: [ctr, nope]\n", 3, "metrics.include.1", "found 'nope'"),
        ("name: x\nsteps: [1,\n", 3, None, "invalid YAML"),
    ],
)
def test_errors_name_file_line_key(tmp_path, text, line, key, fragment):
    error = _error(tmp_path, text)
    assert error.file == str(tmp_path / "s.yaml")
    assert error.line == line
    assert error.key == key
    assert fragment in str(error)


def test_bad_encoding_and_missing_file(tmp_path):
    assert "UTF-8" in str(_error(tmp_path, b"\xff\xfe\x00bad"))
    with pytest.raises(ScenarioError, match="file not found"):
        simlab.load_scenario(tmp_path / "missing.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    error = _error(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    assert "invalid YAML" in str(error)


@pytest.mark.parametrize(
    ("text", "listed", "not_listed"),
    [
        ("name: x\nbehavior: {type: default, bogus: 1}\n", "b_ext", "susceptibility"),
        ("name: x\npopulation: {type: uniform, bogus: 1}\n", "susceptibility", "'a'"),
        ("name: x\nrecommender: {type: random, candidates: {bogus: 1}}\n", "recent_window", "slate_size"),
        ("name: x\noutput: {bogus: 1}\n", "checkpoint_every", "steps"),
    ],
)
def test_unknown_key_lists_the_keys_of_its_own_block(tmp_path, text, listed, not_listed):
    message = str(_error(tmp_path, text))
    assert "unknown key" in message and listed in message and not_listed not in message
