"""The plugin contract of docs/plugins.md (issue 29): its complete example runs as written, and a
plugin that breaks the contract is refused by `simlab validate` and `simlab run` with one line
naming the failed check, before any work."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from simlab.cli import main
from simlab.registry import INTERVENTIONS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
HERE = Path(__file__).parent


def _block(language: str) -> str:
    (first, *_) = re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)
    return first


def test_the_documented_example_validates_runs_and_changes_the_feed(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_feed_rules.py").write_text(_block("python"), encoding="utf-8")
    (tmp_path / "feed_rules.yaml").write_text(_block("yaml"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    commands = [line.split("#")[0].split() for line in _block("bash").splitlines() if line.strip()]
    assert commands == [["simlab", "validate", "feed_rules.yaml"], ["simlab", "run", "feed_rules.yaml"]]
    assert main(commands[0][1:]) == 0
    assert "feed_rules.yaml: ok" in capsys.readouterr().out
    assert main([*commands[1][1:], "--out", "run"]) == 0
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    final = metrics[metrics["step"] == metrics["step"].max()].groupby("variant")[["topic_entropy", "coverage"]].mean()
    assert final.loc["feed_rules", "coverage"] > final.loc["plain", "coverage"] + 0.05  # measured +0.12
    assert final.loc["feed_rules", "topic_entropy"] >= final.loc["plain", "topic_entropy"]


@pytest.fixture
def broken_plugin(tmp_path):
    """A scenario naming the broken plugin module (copied next to it); the module and its type
    are removed again afterwards, so no other test meets them."""
    shutil.copy(HERE / "simlab_repeating_plugin.py", tmp_path / "simlab_repeating_plugin.py")
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(
        "name: broken\nsteps: 3\nplugins: [simlab_repeating_plugin]\n"
        "population: {type: uniform, size: 60}\ncatalog: {size: 80}\n"
        "interventions: [{type: _broken_repeating_rerank}]\n",
        encoding="utf-8",
    )
    yield scenario
    INTERVENTIONS.unregister("_broken_repeating_rerank")
    sys.modules.pop("simlab_repeating_plugin", None)


def test_a_re_ranker_that_repeats_items_is_refused_at_load(broken_plugin, tmp_path, capsys):
    assert main(["validate", str(broken_plugin)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {broken_plugin}:3: plugins.0: plugin module")
    assert "intervention '_broken_repeating_rerank' fails the 'outputs' check" in err
    assert "build_slates repeats an item in a row" in err
    out = tmp_path / "run"
    assert main(["run", str(broken_plugin), "--out", str(out)]) == 2
    assert "build_slates repeats an item in a row" in capsys.readouterr().err
    assert not out.exists()  # refused before any work
