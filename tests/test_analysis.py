"""Every analysis/*.py script (the convention of analysis/README.md) runs on a tiny version of
the scenario it declares and writes its figure and table (marked slow: CI runs `pytest -m slow`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import simlab

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "analysis").glob("*.py") if not p.name.startswith("_"))
# the tiny version every script is tested on; a script's TINY overrides are applied on top
DEFAULTS = {
    "replicates": 2,
    "steps": 4,
    "output.snapshot_every": 2,
    "output.figures": False,
    "output.report": False,
    "output.parquet": False,
}


def declared(script: Path) -> dict[str, Any]:
    """The script's module-level SCENARIO and TINY constants, read without importing it."""
    found: dict[str, Any] = {}
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("SCENARIO", "TINY") and node.value is not None:
                    found[target.id] = ast.literal_eval(node.value)
    return found


_RUNS: dict[str, Path] = {}


def tiny_run(scenario: str, tiny: dict[str, Any], folder: Path) -> Path:
    """A run of the tiny version, shared by the scripts that declare the same one."""
    key = repr((scenario, sorted(tiny.items())))
    if key not in _RUNS:
        out = folder / f"run{len(_RUNS)}"
        result = simlab.run(ROOT / scenario, out=out, overrides={**DEFAULTS, **tiny}, quiet=True)
        assert result.status == "complete", result.manifest
        _RUNS[key] = out
    return _RUNS[key]


def test_there_are_scripts_to_test():
    assert any(p.name == "feed_effects.py" for p in SCRIPTS)


@pytest.mark.slow  # a tiny run per declared scenario, then the script: seconds each
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_an_analysis_script_runs_on_a_tiny_run(script, tmp_path_factory):
    constants = declared(script)
    assert "SCENARIO" in constants, f"{script.name}: declare SCENARIO = 'scenarios/x.yaml' (analysis/README.md)"
    assert (ROOT / constants["SCENARIO"]).is_file(), constants["SCENARIO"]
    run_dir = tiny_run(constants["SCENARIO"], constants.get("TINY", {}), tmp_path_factory.getbasetemp())
    out = tmp_path_factory.mktemp(script.stem)
    result = subprocess.run(
        [sys.executable, str(script), str(run_dir), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in written), f"{script.name} wrote no figure into --out"
    assert "|" in result.stdout, f"{script.name} printed no Markdown table"


@pytest.mark.slow
def test_feed_effects_prints_the_readme_table_format(tmp_path_factory):
    constants = declared(ROOT / "analysis" / "feed_effects.py")
    run_dir = tiny_run(constants["SCENARIO"], constants["TINY"], tmp_path_factory.getbasetemp())
    out = tmp_path_factory.mktemp("readme")
    subprocess.run([sys.executable, "analysis/feed_effects.py", str(run_dir), "--out", str(out)], check=True, cwd=ROOT)
    text = (out / "dlrm_engagement.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("|")]  # the table; its notes below it
    assert lines[0] == "| metric | dlrm | random (diff to dlrm) | oracle (diff to dlrm) |"
    assert text.rstrip().endswith("n = 2: few replicates (intervals are wide and their width uncertain)")
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| exposure_extremeness",
        "| opinion_variance",
        "| extremity",
        "| polarization_er",
        "| ctr",
        "| homogenization",
    ]
    from PIL import Image

    width, height = Image.open(out / "dlrm_engagement.png").size
    assert width == 1080 and height > 300  # 7.2 in, a journal page's width, at 150 dpi
