"""Regression corpus of issue 13: every reproducer exits 2 with one line naming the limit or key,
within 10 s and 500 MB (the sandboxed CLI of tests/config/sandbox.py), and never echoes a data
file's content.

tests/config/hostile/ holds the small reproducers; the big ones (a document over the size
limit, /dev/zero, a FIFO) are made at test time. Files named ``run_*`` are too big to run: they
validate, and ``simlab run`` refuses them on the memory estimate (with ``--max-memory 1G``, so
the outcome does not depend on the machine).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.config.sandbox import outcome

CORPUS = Path(__file__).parent / "hostile"
EXPECTED = {  # file name prefix -> a part of the one error line
    "billion_laughs": "YAML nodes with aliases expanded",
    "recursive_alias": "an alias that contains itself",
    "huge_integer": "digits (limit integer_digits",
    "duplicate_key": "steps: duplicate key (lines 2 and 9)",
    "duplicate_nested_key": "population.size: duplicate key",
    "deep_nesting": "nested at most 64 levels deep",
    "float32_overflow_susceptibility": "population.susceptibility: expected a finite number within float32",
    "float32_overflow_confidence": "population.confidence: expected a finite number within float32",
    "float32_overflow_backfire": "dynamics.beta_backfire: expected a finite number within float32",
    "float32_overflow_lr": "recommender.lr: expected a finite number within float32",
    "inf_susceptibility": "population.susceptibility: expected a finite number",
    "bool_size": "population.size: expected a number, found True",
    "bool_steps": "steps: expected a number, found True",
    "metrics_include_empty": "metrics.include: expected at least one metric",
    "sweep_device": "sweep.device[0]: expected a key a task can change",
    "sweep_replicates": "sweep.replicates[0]: expected a key a task can change",
    "variant_device": "variants.gpu.device: expected a key a task can change",
    "variant_output": "variants.a.output.dir: expected a key a task can change",
    "sweep_repeat": "expected distinct sweep values",
    "sweep_grid_too_large": "found 20000 (limit grid",
    "sweep_baseline_in_variant": "cannot change 'sweep_baseline'",
    "tasks_too_many": "found 300000 = 3 points x 100000 replicates",
    "watts_strogatz_k_ge_n": "network.k: expected k < N = 40",
    "barabasi_albert_m_ge_n": "network.m: expected m < N = 40",
    "sbm_blocks_gt_n": "network.blocks: expected blocks <= N = 40",
    "sbm_5000_blocks": "network.blocks: expected less than or equal to 256",
    "name_": "name: expected String should match pattern",
    "run_": "estimated peak memory",
    "data_pop_": "population.path: ",
    "data_edges_": "network.path: ",
}
VALID = (CORPUS / "bool_size.yaml").read_text().replace("size: true", "size: 40")
SECRETS = ("hunter2", "password", "secret", "999999999999")  # tokens planted in the data files


def _expected(name: str) -> str:
    return next(text for prefix, text in EXPECTED.items() if name.startswith(prefix))


def _check(reply: dict, expected: str) -> str:
    assert outcome(reply) == "exit 2", reply
    assert reply["wall"] < 10, reply
    line = reply["stderr"].strip()
    assert expected in line, line
    return line


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.yaml")))
def test_reproducer_is_refused_in_one_line(name, sandbox, tmp_path):
    if name.startswith("run_"):
        assert outcome(sandbox.run(["validate", name], CORPUS)) == "other"  # valid: exit 0
        argv = ["run", name, "--out", str(tmp_path / "run"), "--max-memory", "1G", "--quiet"]
    else:
        argv = ["validate", name]
    line = _check(sandbox.run(argv, CORPUS), _expected(name))
    assert not any(secret in line for secret in SECRETS), line
    if name.startswith("data_"):  # names the data file and, for text files, its line
        data = name.removeprefix("data_").removesuffix(".yaml")
        assert f"error: {data}" in line or f"/{data}" in line, line
    assert not (tmp_path / "run").exists()  # refused before any work


def test_every_reproducer_has_an_expectation():
    for path in CORPUS.glob("*.yaml"):
        assert _expected(path.name)
    assert len(list(CORPUS.glob("*.yaml"))) >= 60
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < 1 << 20  # small files only


def test_document_over_the_size_limit(sandbox, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("description: " + "x" * (2 << 20) + "\n")
    _check(sandbox.run(["validate", str(path)], tmp_path), "at most 1048576 bytes, found more")


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_before_reading(target, sandbox, tmp_path):
    _check(sandbox.run(["validate", target], tmp_path), "expected a regular file, found a character device")
    link = tmp_path / "scenario.yaml"
    link.symlink_to(target)
    _check(sandbox.run(["validate", str(link)], tmp_path), "found a character device")


def test_fifo_is_refused_without_waiting_for_a_writer(sandbox, tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    _check(sandbox.run(["validate", str(fifo)], tmp_path), "expected a regular file, found a FIFO")
    data = tmp_path / "opinions.csv"  # a FIFO as a population file
    os.mkfifo(data)
    (tmp_path / "pop.yaml").write_text(VALID.replace("{type: uniform, size: 40}", f"{{type: file, path: {data}}}"))
    _check(sandbox.run(["validate", "pop.yaml"], tmp_path), "population: expected an existing .npy or .csv file")


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("behavior.b0=nan", "--set: behavior.b0: expected a finite number, found nan"),
        ("behavior.b0=.inf", "--set: behavior.b0: expected a finite number, found .inf"),
        ("variants.random.behavior.b0=-Infinity", "--set: variants.random.behavior.b0: expected a finite number"),
        ("seed=" + "7" * 5000, "--set: seed: cannot parse value"),
        ("population.size=true", "--set: population.size: expected a number, found True"),
    ],
)
def test_set_values_are_refused_as_written(assignment, expected, sandbox, tmp_path):
    (tmp_path / "ok.yaml").write_text(VALID + "variants: {random: {recommender.type: random}, popular: {}}\n")
    argv = ["run", "ok.yaml", "--set", assignment, "--out", str(tmp_path / "run")]
    _check(sandbox.run(argv, tmp_path), expected)
    assert not (tmp_path / "run").exists()


def test_limits_are_raised_with_environment_variables(monkeypatch, tmp_path):
    """A refusal names its variable; setting it lets the document through (in-process)."""
    from simlab.config import load_scenario
    from simlab.core.errors import ScenarioError

    path = tmp_path / "s.yaml"
    path.write_text("name: deep\ndescription: " + "[" * 80 + "]" * 80 + "\n")
    with pytest.raises(ScenarioError, match="SIMLAB_MAX_YAML_DEPTH"):
        load_scenario(path)
    monkeypatch.setenv("SIMLAB_MAX_YAML_DEPTH", "100")
    with pytest.raises(ScenarioError, match="description: expected a valid string"):  # past the limit now
        load_scenario(path)
    monkeypatch.setenv("SIMLAB_MAX_YAML_DEPTH", "zero")
    with pytest.raises(ScenarioError, match="SIMLAB_MAX_YAML_DEPTH: expected a positive integer"):
        load_scenario(path)
