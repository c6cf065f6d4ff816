"""The documentation site (docs/, mkdocs.yml): every page's commands, scenarios and paths are
real, the tutorials run as written (at a tiny size), the generated tables are included rather
than copied, and `mkdocs build --strict` succeeds (slow; .ci/run builds it too)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from simlab.cli import main
from simlab.config import load_scenario
from tests.doc_commands import (
    ROOT,
    SAVE_AS,
    blocks,
    check_command,
    missing_paths,
    named_scenarios,
    run_page_as_written,
    run_snippet_tiny,
    simlab_commands,
)

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
TUTORIALS = ["tutorials/first-scenario.md", "tutorials/comparing.md"]  # plugins.md: tests/plugins/test_plugin_docs.py
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.M)


def _text(page) -> str:
    return page.read_text(encoding="utf-8")


def _name(page) -> str:
    return str(page.relative_to(DOCS))


def _nav_pages() -> list[str]:
    """Every page the site's navigation lists (mkdocs.yml)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node):
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    return found


def test_every_nav_page_exists_and_the_tutorials_are_in_it():
    nav = _nav_pages()
    assert {"index.md", "getting-started.md", "plugins.md", "design.md", "settings.md", *TUTORIALS} <= set(nav)
    assert [page for page in nav if not (DOCS / page).exists()] == []


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_scenario_a_page_names_validates(page):
    for name in sorted(named_scenarios(_text(page))):
        load_scenario(ROOT / "scenarios" / name)  # raises ScenarioError when it does not


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_repository_path_a_page_names_exists(page):
    missing = missing_paths(_text(page))
    assert not missing, f"docs/{_name(page)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_simlab_command_of_a_page_parses_and_its_overrides_validate(page, monkeypatch, tmp_path):
    text = _text(page)
    # the files the page saves (tutorials) exist where its commands run, beside the shipped scenarios
    for body in blocks(text, "yaml"):
        if SAVE_AS.match(body):
            (tmp_path / SAVE_AS.match(body)[1]).write_text(body, encoding="utf-8")
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    for command in simlab_commands(text):
        check_command(command)


def test_the_pages_show_commands():
    commands = [c for page in PAGES for c in simlab_commands(_text(page))]
    assert len(commands) > 20 and any(c.startswith("simlab compare") for c in commands)


@pytest.mark.parametrize("tutorial", TUTORIALS)
def test_a_tutorial_runs_as_written_at_tiny_size(tutorial, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    ran = run_page_as_written(_text(DOCS / tutorial), tmp_path, tutorial)
    assert len(ran) >= 3
    for command in ran:
        argv = shlex.split(command)
        if "--out" in argv:  # each run and comparison wrote its folder
            folder = tmp_path / argv[argv.index("--out") + 1]
            assert (folder / "metrics.csv").exists() or (folder / "compare.csv").exists(), command
    if tutorial == "tutorials/first-scenario.md":  # its plot, report and compare commands read runs/my_first
        run = tmp_path / "runs" / "my_first"
        assert (run / "report.html").exists() and (run / "compare.csv").exists()
        assert any((run / "figures").glob("*.png"))


def test_the_getting_started_snippet_runs_at_tiny_size(monkeypatch, tmp_path):
    (snippet,) = [b for b in blocks(_text(DOCS / "getting-started.md"), "python") if "simlab.run" in b]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    result = run_snippet_tiny(snippet, "getting-started.md", monkeypatch)["result"]
    assert set(result.metrics["variant"]) == {"random", "popularity", "oracle"}
    assert (result.path / "metrics.csv").exists()


def test_antidote_examples_run_as_written(monkeypatch, tmp_path, capsys):
    """The antidote page's Python snippet and `simlab antidote` command, run as written."""
    text = _text(DOCS / "results" / "antidote.md")
    (snippet,) = [block for block in blocks(text, "python") if "simlab.antidote" in block]
    namespace: dict = {}
    exec(compile(snippet, "results/antidote.md", "exec"), namespace)
    result = namespace["result"]
    assert result.antidote.shape == (3, 40)
    assert result.after["polarization"] < result.before["polarization"]
    (command,) = [c for c in simlab_commands(text) if c.startswith("simlab antidote ")]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    assert main(shlex.split(command)[1:]) == 0
    out = tmp_path / shlex.split(command)[shlex.split(command).index("--out") + 1]
    assert (out / "antidote_ratings.csv").exists() and (out / "before_after.csv").exists()


def _generated_tables() -> set[str]:
    """The tables the analysis/ scripts write into docs/: mkdocs.yml declares them `not_in_nav`."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return {"docs" + line.strip() for line in config["not_in_nav"].splitlines() if line.strip()}


def test_every_top_level_page_is_in_the_nav_or_a_generated_table():
    pages = {f"docs/{p.name}" for p in DOCS.glob("*.md")}
    listed = {f"docs/{page}" for page in _nav_pages()} | _generated_tables()
    assert pages - listed == set()


def test_generated_tables_are_included_not_copied():
    """Each table an analysis/ script writes (docs/<name>.md) is included by a results page with
    `--8<--`, and no page repeats one of its rows by hand."""
    generated = _generated_tables()
    pages = {page: _text(page) for page in PAGES if f"docs/{page.name}" not in generated or page.parent != DOCS}
    included = {path for text in pages.values() for path in INCLUDE.findall(text)}
    assert len(generated) >= 15 and generated <= included, sorted(generated - included)
    assert all((ROOT / path).exists() for path in included)
    rows = {
        line
        for path in generated
        for line in (ROOT / path).read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and "[" in line
    }
    for page, text in pages.items():
        copied = [line for line in text.splitlines() if line in rows]
        assert not copied, f"docs/{_name(page)} copies a generated table's rows: {copied[:1]}"


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    if shutil.which("mkdocs") is None:
        pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "results" / "flagship" / "index.html").exists()
    flagship = (tmp_path / "site" / "results" / "flagship" / "index.html").read_text(encoding="utf-8")
    assert "exposure_extremeness" in flagship and "--8&lt;--" not in flagship  # the table was included
