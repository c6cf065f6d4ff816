"""Every command example in the README still works as written (at tiny size where it runs)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

import simlab
from simlab.cli import _parser, main
from simlab.config import load_scenario, parse_set

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# what the Python snippet's scenario is shrunk to (the shape of the `tiny` fixture)
TINY_OVERRIDES = {
    "replicates": 1,
    "population.size": 60,
    "network.mean_degree": 4,
    "catalog.size": 80,
    "catalog.creators": 10,
    "catalog.new_per_step": 5,
    "recommender.candidates.size": 20,
    "output.snapshot_every": 0,
    "output.figures": False,
    "output.report": False,
}


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _simlab_commands() -> list[str]:
    """Every `simlab ...` command: lines of the bash blocks and inline code spans, split at
    `&&` and `;`, comments dropped; prose shorthand (`...`, pipes) is left out."""
    pieces = [line for block in _blocks("bash") for line in block.splitlines()]
    pieces += re.findall(r"`(simlab [^`]+)`", README)
    commands = []
    for piece in pieces:
        for part in re.split(r"&&|;", piece.split(" #")[0]):
            part = part.strip()
            if part.startswith("simlab ") and "..." not in part and "|" not in part:
                commands.append(part)
    return commands


def test_quickstart_yaml_block_is_the_shipped_file():
    shipped = yaml.safe_load((ROOT / "scenarios" / "quickstart.yaml").read_text())
    shown = [doc for doc in map(yaml.safe_load, _blocks("yaml")) if isinstance(doc, dict)]
    quickstart = [doc for doc in shown if doc.get("name") == "quickstart"]
    assert quickstart, "the README shows no quickstart YAML block"
    assert quickstart[0] == shipped, "the README's quickstart block differs from scenarios/quickstart.yaml"


def test_every_scenario_the_readme_names_validates():
    names = set(re.findall(r"scenarios/([A-Za-z0-9_]+\.yaml)", README))
    assert "quickstart.yaml" in names
    for name in sorted(names):
        load_scenario(ROOT / "scenarios" / name)  # raises ScenarioError when it does not


def test_every_repository_path_the_readme_names_exists():
    paths = set(re.findall(r"\b((?:analysis|benchmarks|docs|scenarios|simlab|tests)/[A-Za-z0-9_./-]*)", README))
    assert len(paths) > 10
    missing = []
    for path in sorted(paths):
        path = path.rstrip(".,")
        if path.startswith("benchmarks/.venv-trecs") or re.search(r"[A-Z]", Path(path).stem):
            continue  # created on first use; a placeholder such as analysis/X.py
        if not (ROOT / path).exists():
            missing.append(path)
    assert not missing, f"the README names paths that do not exist: {missing}"


def test_every_simlab_command_parses_and_its_overrides_validate(monkeypatch):
    monkeypatch.chdir(ROOT)
    commands = _simlab_commands()
    assert any(c.startswith("simlab run") for c in commands) and any("--settings" in c for c in commands)
    parser = _parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command)[1:])  # exits 2 on an unknown flag
        if args.command == "run" and args.scenario:
            flags = {k: getattr(args, k) for k in ("replicates", "seed", "steps", "device")}
            load_scenario(args.scenario, {**parse_set(args.set), **{k: v for k, v in flags.items() if v is not None}})


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
    real = simlab.load_scenario

    def tiny_load(source, overrides=None):
        return real(source, {**TINY_OVERRIDES, **(overrides or {})})

    monkeypatch.setattr(simlab, "load_scenario", tiny_load)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    result = namespace["result"]
    steps = int(re.search(r"steps=(\d+)", snippet)[1])  # the snippet's own override
    assert set(result.metrics["variant"]) == {"random", "popularity", "oracle"}
    assert len(result.metrics) == 3 * steps
    assert (result.path / "metrics.csv").exists()
    assert callable(namespace["fj_equilibrium"]) and hasattr(namespace["measures"], "esteban_ray")


def test_antidote_examples_run_as_written(monkeypatch, tmp_path, capsys):
    """The antidote section's Python snippet and `simlab antidote` command, run as written."""
    (snippet,) = [block for block in _blocks("python") if "simlab.antidote" in block]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert result.antidote.shape == (3, 40)
    assert result.after["polarization"] < result.before["polarization"]
    (command,) = [c for c in _simlab_commands() if c.startswith("simlab antidote ")]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    assert main(shlex.split(command)[1:]) == 0
    out = tmp_path / shlex.split(command)[shlex.split(command).index("--out") + 1]
    assert (out / "antidote_ratings.csv").exists() and (out / "before_after.csv").exists()


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
            p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in {"", ".py", ".md", ".yaml", ".sh"}
        ]
    found = [
        f"{p.relative_to(ROOT)}: {word}"
        for p in files
        if ".venv" not in p.parts
        for word in outside
        if word in p.read_text(encoding="utf-8", errors="ignore")
    ]
    assert not found, f"references to paths outside the repository: {found}"


def test_the_timings_are_the_scripts_not_typed():
    """The README's timing block is what benchmarks/readme_timings.py measured and wrote."""
    block = re.search(r"<!-- timings -->\n(.*?)\n<!-- /timings -->", README, flags=re.S)
    assert block is not None, "the README has no timings block"
    written = (ROOT / "benchmarks" / "results" / "readme_timings.md").read_text(encoding="utf-8").strip()
    assert block.group(1).strip() == written
    assert written.startswith("Measured by `python benchmarks/readme_timings.py`")
    assert "`simlab run scenarios/quickstart.yaml`" in written and "The default test suite" in written
