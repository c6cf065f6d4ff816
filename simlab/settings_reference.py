"""The settings reference: every scenario key, generated from the settings models themselves.

Each section is one pydantic model: the scenario's top-level keys, the loop settings every
recommender shares (``recommender``, ``recommender.candidates``), ``metrics``, ``output``, and
one section per registered type of every registry kind (``network.barabasi_albert``,
``policy.softmax``, ``intervention.<name>``, ``metric.<name>``, ...). A row gives the key, its
type, its default, its allowed range (from the field's ``ge``/``gt``/``le``/``lt`` bounds, a
``pattern`` or its ``Literal`` choices) and its ``description=``.

``docs/settings.md`` is :func:`render_markdown` (``simlab list --settings --markdown``);
``simlab list --settings [NAME]`` prints :func:`render_text`. Components that plugins register
appear as soon as their module is imported.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import pydantic
import yaml
from pydantic_core import PydanticUndefined

from simlab import registry
from simlab.config.schema import Component


@dataclass(frozen=True)
class Row:
    """One settings key, every cell already rendered as text."""

    key: str
    type: str
    default: str
    range: str
    description: str


@dataclass(frozen=True)
class Section:
    """One settings model: ``name`` is how ``simlab list --settings NAME`` selects it and
    ``where`` is where its keys go in a scenario YAML.
    """

    name: str
    where: str
    summary: str
    model: type[pydantic.BaseModel]
    kind: str = ""  # the registry kind of a type's section; "" for the loop settings

    def rows(self) -> list[Row]:
        """One row per key of the section's model as written in the YAML (not ``type``, nor the
        scenario model's ``loop``: its keys are written in ``recommender``).
        """
        return [
            _row(key, field) for key, field in self.model.model_fields.items() if key != "type" and not field.exclude
        ]


# where a type's settings go in a scenario YAML (kinds not listed: a top-level block)
_WHERE = {
    "policy": "recommender: {policy: {type: NAME, ...}}",
    "intervention": "interventions: [{type: NAME, ...}, ...]",
    "metric": "metrics: {params: {NAME: {...}}}",
}


def sections(builtin: bool = False) -> list[Section]:
    """Every section: the loop settings first, then each kind's types in registry order
    (``builtin``: only the types simlab itself defines, not those of plugins).
    """
    from simlab.config import CandidateSettings, LoopSettings, MetricsSettings, OutputSettings, Scenario

    out = [
        Section("scenario", "the top level", "The scenario's top-level keys.", Scenario),
        Section(
            "recommender",
            "recommender: {...}",
            _summary(LoopSettings),
            LoopSettings,
        ),
        Section(
            "recommender.candidates", "recommender: {candidates: {...}}", _summary(CandidateSettings), CandidateSettings
        ),
        Section("metrics", "metrics: {...}", _summary(MetricsSettings), MetricsSettings),
        Section("output", "output: {...}", _summary(OutputSettings), OutputSettings),
    ]
    for kind, reg in registry.ALL.items():
        for name in reg.names():
            if builtin and not reg.get(name).__module__.startswith("simlab."):
                continue
            where = _WHERE.get(kind, f"{kind}: {{type: NAME, ...}}").replace("NAME", name)
            model = reg.settings_model(name)
            out.append(Section(f"{kind}.{name}", where, _summary(reg.get(name)), model, kind))
    return out


def select(name: str | None) -> list[Section]:
    """The sections ``name`` selects: every one (None), else the section called ``name`` and every
    section under it (``network``: each network type; ``recommender``: the loop settings and each
    recommender type). Raises ``KeyError`` naming the known names when nothing matches.
    """
    every = sections()
    if name is None:
        return every
    chosen = [s for s in every if s.name == name or s.name.startswith(name + ".")]
    if not chosen and name not in registry.ALL:  # a kind with no types yet selects nothing
        known = ", ".join(s.name for s in every)
        raise KeyError(
            f"unknown settings name {name!r}; expected a kind ({', '.join(registry.ALL)}) or one of: {known}"
        )
    return chosen


def describe_key(key: str, scenario: dict[str, Any] | None = None) -> str:
    """The ``description=`` of the setting a dotted scenario key names (``interventions.0.weight``
    in a scenario whose first intervention is ``extremeness_penalty``: that type's ``weight``),
    with the component types read from ``scenario`` (a scenario document); "" when unknown.
    """
    from simlab.config import COMPONENTS, DEFAULT_TYPES, CandidateSettings, LoopSettings, Scenario

    scenario = scenario or {}
    parts = key.split(".")
    models: list[type[pydantic.BaseModel]] = []

    def type_of(block: Any, kind: str) -> str | None:
        name = block.get("type") if isinstance(block, dict) else None
        return name or DEFAULT_TYPES.get(kind)

    head, rest = parts[0], parts[1:]
    if not rest:
        models = [Scenario]
    elif head == "recommender" and rest[0] == "candidates" and len(rest) == 2:
        models, rest = [CandidateSettings], rest[1:]
    elif head == "recommender" and rest[0] == "policy" and len(rest) == 2:
        block = (scenario.get("recommender") or {}).get("policy")
        name = type_of(block, "policy")
        models, rest = (
            ([registry.POLICIES.settings_model(name)] if name and name in registry.POLICIES else []),
            rest[1:],
        )
    elif head == "interventions" and rest[0].isdigit() and len(rest) == 2:
        blocks = scenario.get("interventions") or []
        index = int(rest[0])
        name = blocks[index].get("type") if index < len(blocks) and isinstance(blocks[index], dict) else None
        models = [registry.INTERVENTIONS.settings_model(name)] if name and name in registry.INTERVENTIONS else []
        rest = rest[1:]
    elif head in COMPONENTS and len(rest) == 1:
        name = type_of(scenario.get(head), head)
        reg = COMPONENTS[head]
        models = [reg.settings_model(name)] if name and name in reg else []
        if head == "recommender":
            models.append(LoopSettings)
    elif head in ("metrics", "output") and len(rest) == 1:
        field = Scenario.model_fields[head]
        models = [field.annotation] if isinstance(field.annotation, type) else []
    target = rest[0] if rest else head
    for model in models:
        found = model.model_fields.get(target)
        if found is not None and found.description:
            return str(found.description)
    return ""


# ---------------------------------------------------------------------------- rendering


def render_markdown() -> str:
    """The reference of simlab's own types as Markdown (the content of docs/settings.md)."""
    lines = [
        "# Settings reference",
        "",
        "<!-- Generated from the settings models; do not edit by hand. Regenerate with",
        "     simlab list --settings --markdown > docs/settings.md",
        "     (tests/test_settings_reference.py fails when this file is out of date). -->",
        "",
        "Every key a scenario YAML accepts, generated from the components' own pydantic settings",
        "models (`simlab/settings_reference.py`). A component block is `{type: name, ...settings}`;",
        "unknown keys and values outside the range are load-time errors (exit code 2).",
        "`simlab list --settings NAME` prints one section (e.g. `network.barabasi_albert`) or a whole",
        "kind (e.g. `network`) as a plain table. Ranges: `[a, b]` includes both ends, `(a, b]`",
        "excludes a; one of `a | b` lists the accepted values.",
        "",
    ]
    kind = None
    for section in sections(builtin=True):
        if section.kind != kind:
            kind = section.kind
            lines += [f"## `{kind}` types" if kind else "## Loop settings", ""]
        where = section.where if section.where.startswith("the ") else f"`{section.where}`"
        lines += [f"### `{section.name}`", "", f"In the YAML: {where}. {section.summary}", ""]
        rows = section.rows()
        if not rows:
            lines += ["No settings.", ""]
            continue
        lines += ["| key | type | default | range | description |", "| --- | --- | --- | --- | --- |"]
        for row in rows:
            cells = [f"`{row.key}`", _md(row.type), _md(row.default, code=True), _md(row.range), _md(row.description)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def render_text(name: str | None = None) -> str:
    """Plain-text tables of the sections ``name`` selects (see :func:`select`)."""
    chosen = select(name)
    if not chosen:
        return f"no {name} types are registered"
    blocks = []
    for section in chosen:
        header = f"{section.name}    in the YAML: {section.where}\n  {section.summary}"
        rows = section.rows()
        if not rows:
            blocks.append(header + "\n  no settings")
            continue
        table = [("key", "type", "default", "range", "description")]
        table += [(r.key, r.type, r.default, r.range, r.description) for r in rows]
        widths = [max(len(cells[i]) for cells in table) for i in range(4)]
        lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(cells[:4], widths)) + "  " + cells[4] for cells in table]
        blocks.append(header + "\n" + "\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks)


# ---------------------------------------------------------------------------- one field


def _row(key: str, field: Any) -> Row:
    annotation = field.annotation
    return Row(
        key=key,
        type=_type_name(annotation),
        default=_default(field),
        range=_range(field, annotation),
        description=" ".join((field.description or "").split()),
    )


def _summary(obj: Any) -> str:
    """The first paragraph of a class's docstring, on one line, reST roles and literals as
    Markdown code (``:func:`read_edge_list``` and ````k```` -> ```read_edge_list``` and ```k```).
    """
    doc = inspect.getdoc(obj) or ""
    text = " ".join(doc.split("\n\n")[0].split())
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")
    if text and (text[-1] not in ".!?)" or text.endswith(("i.e.", "e.g."))):
        text += " ..."  # the paragraph runs on into an equation: see the class docstring
    return text


def _type_name(annotation: Any) -> str:
    """``int``, ``float | None``, ``list[str] | 'all'``, ``dict[str, Any]``, ...; a Literal is the
    type of its choices (the choices go to the range column).
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        kinds = dict.fromkeys(type(a).__name__ for a in args)
        return " | ".join(kinds)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(dict.fromkeys(_type_name(a) for a in args))
    if annotation is type(None):
        return "None"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return "mapping"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, Component):  # a default block: its type (its settings: that type's section)
        return _yaml({"type": value.type})
    if isinstance(value, pydantic.BaseModel):
        return "its defaults" if type(value).model_fields else "{}"
    return _yaml(value)


def _yaml(value: Any) -> str:
    """A value as it would be written in a scenario YAML (flow style, one line)."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{value:.1f}"
    if isinstance(value, float):
        return repr(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, sort_keys=False).strip()
    return text.removesuffix("\n...").strip()


# annotated-types bound attributes: (name, is it the lower bound, is it open)
_BOUNDS = (("ge", True, False), ("gt", True, True), ("le", False, False), ("lt", False, True))


def _range(field: Any, annotation: Any) -> str:
    """``[0, 1]``, ``(0, 0.5]``, ``>= 1``, ``one of a | b``, ``pattern ^...$`` or ``""``."""
    low = high = None
    low_open = high_open = False
    pattern = None
    for item in field.metadata:
        for attr, is_low, is_open in _BOUNDS:
            value = getattr(item, attr, None)
            if value is None:
                continue
            if is_low:
                low, low_open = value, is_open
            else:
                high, high_open = value, is_open
        pattern = getattr(item, "pattern", None) or pattern
    choices = _literal_choices(annotation)
    if choices:
        return "one of " + " | ".join(_yaml(c) for c in choices)
    if pattern:
        return f"pattern {pattern}"
    if low is not None and high is not None:
        return f"{'(' if low_open else '['}{_number(low)}, {_number(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_number(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_number(high)}"
    return ""


def _literal_choices(annotation: Any) -> list[Any]:
    """The Literal values anywhere in the annotation (``list[str] | Literal['all']`` -> ['all'])."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [c for a in typing.get_args(annotation) for c in _literal_choices(a)]
    return []


def _number(value: Any) -> str:
    """Bounds as written in the code: 100_000 -> 100000, 2**63 -> 2^63, 1e-6 -> 1e-06."""
    if isinstance(value, int) and value >= 2**20 and value & (value - 1) == 0:
        return f"2^{value.bit_length() - 1}"
    if isinstance(value, float) and float(f"{value:g}") == value:
        return f"{value:g}"
    return str(value)


def _md(text: str, code: bool = False) -> str:
    if not text:
        return ""
    text = text.replace("|", "\\|")
    return f"`{text}`" if code else text
