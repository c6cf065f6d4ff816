"""The settings reference: rendering of each kind of field, docs/settings.md kept current, and
`simlab list --settings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic
import pytest

from simlab import registry
from simlab.cli import main
from simlab.settings_reference import Section, render_markdown, render_text, sections, select

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


class _Example(pydantic.BaseModel):
    """An example model.

    Second paragraph, not in the summary."""

    model_config = pydantic.ConfigDict(extra="forbid")
    count: int = pydantic.Field(3, ge=1, le=10, description="a closed range")
    rate: float = pydantic.Field(0.5, gt=0, lt=1, description="an open range")
    scale: float = pydantic.Field(2.0, gt=0, description="bounded below only")
    mode: Literal["fast", "exact"] = pydantic.Field("fast", description="choices")
    path: str = pydantic.Field(description="required")
    limit: int | None = pydantic.Field(None, le=2**30, description="optional | piped")
    widths: list[int] = pydantic.Field([64, 16], description="a list")


def _rows(model: type[pydantic.BaseModel]) -> dict[str, tuple[str, str, str, str]]:
    section = Section("x", "x: {...}", "", model)
    return {r.key: (r.type, r.default, r.range, r.description) for r in section.rows()}


def test_each_kind_of_field_is_rendered():
    rows = _rows(_Example)
    assert rows["count"] == ("int", "3", "[1, 10]", "a closed range")
    assert rows["rate"] == ("float", "0.5", "(0, 1)", "an open range")
    assert rows["scale"] == ("float", "2.0", "> 0", "bounded below only")
    assert rows["mode"] == ("str", "fast", "one of fast | exact", "choices")
    assert rows["path"][1] == "required"
    assert rows["limit"] == ("int | None", "null", "<= 2^30", "optional | piped")
    assert rows["widths"][:2] == ("list[int]", "[64, 16]")


def test_a_real_type_matches_its_settings_model():
    (section,) = select("network.barabasi_albert")
    field = registry.NETWORKS.settings_model("barabasi_albert").model_fields["m"]
    (row,) = section.rows()
    assert (row.key, row.type, row.default) == ("m", "int", str(field.default))
    assert row.range == "[1, 10000]" and row.description == field.description
    (scenario,) = select("scenario")
    seed = next(r for r in scenario.rows() if r.key == "seed")
    assert seed.range == "[0, 2^63)"  # ge=0, lt=2**63


def test_every_registered_type_and_loop_model_has_a_section():
    names = [s.name for s in sections()]
    assert len(names) == len(set(names))
    assert {"scenario", "recommender", "recommender.candidates", "metrics", "output"} <= set(names)
    for kind, reg in registry.ALL.items():
        for name in reg.names():
            assert f"{kind}.{name}" in names


def test_every_setting_has_a_description():
    missing = [f"{s.name}.{r.key}" for s in sections(builtin=True) for r in s.rows() if not r.description]
    assert not missing, f"settings without description=: {missing}"


def test_plugin_types_are_listed_but_not_in_the_docs():
    plugin = type("Ring", (), {"__module__": "my_lab.networks", "__doc__": "A plugin's network."})
    registry.NETWORKS.register("ring")(plugin)
    try:
        assert "network.ring" in [s.name for s in sections()]
        assert "network.ring" not in [s.name for s in sections(builtin=True)]
        assert "A plugin's network." in render_text("network.ring")
        assert "network.ring" not in render_markdown()
    finally:
        registry.NETWORKS.unregister("ring")


def test_docs_settings_md_is_current():
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/settings.md is out of date; regenerate it with: simlab list --settings --markdown > docs/settings.md"
    )


def test_select_a_kind_and_the_loop_settings_under_a_name():
    network = {s.name for s in select("network")}
    assert network == {f"network.{n}" for n in registry.NETWORKS.names()}
    recommender = [s.name for s in select("recommender")]
    assert recommender[:2] == ["recommender", "recommender.candidates"]
    assert {f"recommender.{n}" for n in registry.RECOMMENDERS.names()} <= set(recommender)
    with pytest.raises(KeyError, match=r"network\.barabasi_albert"):
        select("network.barabasi")


def test_text_table_aligns_columns():
    text = render_text("policy.epsilon_greedy")
    header, row = text.splitlines()[2:4]
    assert header.split() == ["key", "type", "default", "range", "description"]
    assert row.split()[:4] == ["epsilon", "float", "0.1", "[0,"]
    assert header.index("range") == row.index("[0, 1]")
    assert "no settings" in render_text("policy.top_k")


def test_cli_list_settings(capsys):
    assert main(["list", "--settings", "network.barabasi_albert"]) == 0
    out = capsys.readouterr().out
    assert "network.barabasi_albert" in out and "[1, 10000]" in out
    assert main(["list", "--settings", "--markdown"]) == 0
    assert capsys.readouterr().out == render_markdown()
    assert main(["list", "--settings"]) == 0
    assert "population.uniform" in capsys.readouterr().out


def test_cli_list_settings_unknown_name_exits_2_with_the_known_names(capsys):
    assert main(["list", "--settings", "network.nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --settings:")
    assert "network.barabasi_albert" in err and "recommender.dlrm" in err
