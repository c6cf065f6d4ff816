"""Every command example in the README still works as written (at tiny size where it runs).

The checks are shared with the documentation pages (tests/doc_commands.py, tests/test_docs.py)."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from simlab.cli import main
from simlab.config import load_scenario
from tests.doc_commands import (
    ROOT,
    blocks,
    check_command,
    missing_paths,
    named_scenarios,
    run_snippet_tiny,
    simlab_commands,
)

README = (ROOT / "README.md").read_text(encoding="utf-8")
README_LINES = 300  # issue 23: the README is a landing page; the rest lives in docs/


def _blocks(language: str) -> list[str]:
    return blocks(README, language)


def test_the_readme_is_a_landing_page():
    assert len(README.splitlines()) <= README_LINES
    assert "![" in README and "docs/getting-started.md" in README  # one figure; links to the docs


def test_quickstart_yaml_block_is_the_shipped_file():
    shipped = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    shown = [doc for doc in map(yaml.safe_load, _blocks("yaml")) if isinstance(doc, dict)]
    quickstart = [doc for doc in shown if doc.get("name") == "quickstart"]
    assert quickstart, "the README shows no quickstart YAML block"
    assert quickstart[0] == shipped, "the README's quickstart block differs from scenarios/quickstart.yaml"


def test_every_scenario_the_readme_names_validates():
    names = named_scenarios(README)
    assert "quickstart.yaml" in names
    for name in sorted(names):
        load_scenario(ROOT / "scenarios" / name)  # raises ScenarioError when it does not


def test_every_repository_path_the_readme_names_exists():
    assert len(re.findall(r"\b(?:analysis|benchmarks|docs|scenarios|simlab|tests)/", README)) > 10
    missing = missing_paths(README)
    assert not missing, f"the README names paths that do not exist: {missing}"


def test_every_simlab_command_parses_and_its_overrides_validate(monkeypatch):
    monkeypatch.chdir(ROOT)
    commands = simlab_commands(README)
    assert any(c.startswith("simlab run") for c in commands) and any("--settings" in c for c in commands)
    for command in commands:
        check_command(command)


def test_list_and_validate_as_written(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["list"]) == 0
    assert main(["list", "--settings", "network.barabasi_albert"]) == 0
    scenarios = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").glob("*.yaml"))
    assert main(["validate", *scenarios]) == 0
    assert capsys.readouterr().out.count(": ok (") == len(scenarios)


def test_python_snippet_runs_at_tiny_size(monkeypatch, tmp_path):
    (snippet,) = [block for block in _blocks("python") if "simlab.load_scenario" in block]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    namespace = run_snippet_tiny(snippet, "README.md", monkeypatch)
    result = namespace["result"]
    steps = int(re.search(r"steps=(\d+)", snippet)[1])  # the snippet's own override
    assert set(result.metrics["variant"]) == {"random", "popularity", "oracle"}
    assert len(result.metrics) == 3 * steps
    assert (result.path / "metrics.csv").exists()
    assert callable(namespace["fj_equilibrium"]) and hasattr(namespace["measures"], "esteban_ray")


def test_pytest_m_slow_selects_tests():
    assert "pytest -m slow" in README
    assert '"slow:' in (ROOT / "pyproject.toml").read_text()
    marked = [p for p in (ROOT / "tests").rglob("test_*.py") if "@pytest.mark.slow" in p.read_text(encoding="utf-8")]
    assert marked, "the README offers `pytest -m slow`, but no test is marked slow"


def test_nothing_refers_to_paths_outside_the_repository():
    # spelled in pieces so that this file does not match itself
    outside = ["../" + "shared", "/work" + "/", "DESIGN" + ".md"]
    files = [ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in ("simlab", "tests", "benchmarks", "analysis", "docs", "scenarios", ".ci"):
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix in {"", ".py", ".md", ".yaml", ".sh", ".txt", ".json"}
        ]
    found = [
        f"{p.relative_to(ROOT)}: {word}"
        for p in files
        if not any(part.startswith(".venv") for part in p.parts)  # benchmarks/.venv-trecs: T-RECS's own
        for word in outside
        if word in p.read_text(encoding="utf-8", errors="ignore")
    ]
    assert not found, f"references to paths outside the repository: {found}"


def test_the_simulation_core_does_not_import_matplotlib():
    # plotting reads the run folder: running a scenario (the loop, metrics, recommenders, run
    # folders, the command line) must not load matplotlib; a fresh interpreter, so that no other
    # test's imports count
    code = (
        "import sys, simlab, simlab.cli, simlab.loop.simulation, simlab.running, simlab.metrics.measures\n"
        "import simlab.recommenders.dlrm.recommender, simlab.antidote\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_timings_are_the_scripts_not_typed():
    """The README's timing block is what benchmarks/readme_timings.py measured and wrote."""
    block = re.search(r"<!-- timings -->\n(.*?)\n<!-- /timings -->", README, flags=re.S)
    assert block is not None, "the README has no timings block"
    written = (ROOT / "benchmarks" / "results" / "readme_timings.md").read_text(encoding="utf-8").strip()
    assert block.group(1).strip() == written
    assert written.startswith("Measured by `python benchmarks/readme_timings.py`")
    assert "`simlab run scenarios/quickstart.yaml`" in written and "The default test suite" in written
