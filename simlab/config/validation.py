"""Validation: each component block through its registered settings model, errors located
at the file, line and key path of the offending value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import yaml

from simlab import registry
from simlab.config.overrides import _flatten, apply_overrides
from simlab.config.schema import COMPONENTS, DEFAULT_TYPES, RecommenderCommon, Scenario
from simlab.errors import ScenarioError


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _component(kind: str, spec: Any, path: str) -> dict[str, Any]:
    """Validate one ``{type: ..., **settings}`` block; returns it with defaults filled."""
    reg = registry.ALL[kind] if kind in registry.ALL else COMPONENTS[kind]
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise _KeyError(path, f"expected a mapping like {{type: name, ...}}, found {_describe(spec)}")
    spec = dict(spec)
    type_name = spec.get("type", DEFAULT_TYPES.get(kind))
    if type_name is None:
        raise _KeyError(f"{path}.type", "expected a type name, found nothing")
    if not isinstance(type_name, str) or type_name not in reg:
        raise _KeyError(f"{path}.type", f"expected one of {reg.names()}, found {_describe(type_name)}")
    spec["type"] = type_name
    common: dict[str, Any] = {}
    if kind == "recommender":
        common_keys = set(RecommenderCommon.model_fields)
        common = {k: v for k, v in spec.items() if k in common_keys}
        spec = {k: v for k, v in spec.items() if k not in common_keys}
        common = _model(RecommenderCommon, {**common, "type": type_name}, path)
        common["policy"] = _component("policy", common["policy"], f"{path}.policy")
    settings = {k: v for k, v in spec.items() if k != "type"}
    validated = _model(reg.settings_model(type_name), settings, path)
    return {**common, "type": type_name, **validated}


class _KeyError(Exception):
    """A validation error at a dotted key path (``shown`` is how to print the path)."""

    def __init__(self, path: str, message: str, shown: str | None = None):
        super().__init__(message)
        self.path, self.message, self.shown = path, message, shown or path


def _model(model: type[pydantic.BaseModel], data: dict[str, Any], path: str) -> dict[str, Any]:
    try:
        return model.model_validate(data).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        raise _from_pydantic(exc, path, data, model) from None


def _from_pydantic(exc: pydantic.ValidationError, prefix: str, data: Any, model: type[pydantic.BaseModel]) -> _KeyError:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    # pydantic reports union members as extra loc parts (e.g. 'list[str]'); drop type names
    loc = [p for p in loc if "[" not in p and p not in {"literal['all']", "str", "int"}]
    path = ".".join([p for p in [prefix, *loc] if p])
    found = data
    for part in loc:
        if isinstance(found, dict) and part in found:
            found = found[part]
        elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
            found = found[int(part)]
        else:
            found = None
            break
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        message = "unknown key" + (f"; expected one of {allowed}" if allowed else "")
    elif kind == "missing":
        message = "required key is missing"
    else:
        expected = err["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
        # a component's own check already says what it found
        message = f"expected {expected}" + ("" if ", found " in expected else f", found {_describe(found)}")
    return _KeyError(path, message)


def _allowed_keys(model: type[pydantic.BaseModel], parents: list[str]) -> list[str]:
    """The keys of the (nested) model that the unknown key was found in."""
    for part in parents:
        field = model.model_fields.get(part)
        nested = getattr(field, "annotation", None) if field else None
        if not (isinstance(nested, type) and issubclass(nested, pydantic.BaseModel)):
            return []
        model = nested
    return sorted(model.model_fields)


def _validate(doc: Any, source: str | None, nodes: yaml.Node | None) -> Scenario:
    try:
        if not isinstance(doc, dict):
            raise _KeyError("", f"expected a mapping of scenario keys, found {_describe(doc)}")
        doc = dict(doc)
        _load_plugins(doc.get("plugins"), source)
        for kind in COMPONENTS:
            doc[kind] = _component(kind, doc.get(kind), kind)
        interventions = doc.get("interventions") or []
        if not isinstance(interventions, list):
            raise _KeyError("interventions", f"expected a list, found {_describe(interventions)}")
        doc["interventions"] = [
            _component("intervention", spec, f"interventions.{i}") for i, spec in enumerate(interventions)
        ]
        for kind, reg in COMPONENTS.items():
            # a component may check settings of the others (e.g. karate_club needs 34 users)
            check = getattr(reg.get(doc[kind]["type"]), "check_scenario", None)
            message = check(doc) if check else None
            if message:
                raise _KeyError(f"{kind}.type", message)
        scenario = Scenario.model_validate(doc)
        _check_metrics(scenario)
        for name, override in scenario.variants.items():
            if not isinstance(override, dict):
                raise _KeyError(f"variants.{name}", "expected a mapping of overrides")
            _check_override(scenario, override, f"variants.{name}")
        for key, values in scenario.sweep.items():
            if not values:
                raise _KeyError(f"sweep.{key}", "expected a non-empty list of values, found []")
            for i, value in enumerate(values):
                _check_override(scenario, {key: value}, f"sweep.{key}.{i}", shown_key=f"sweep.{key}[{i}]")
    except pydantic.ValidationError as exc:
        error = _from_pydantic(exc, "", doc, Scenario)
        raise _located(error, source, nodes) from None
    except _KeyError as error:
        raise _located(error, source, nodes) from None
    scenario._source = source
    return scenario


def plugin_search_path(source: str | None) -> list[str]:
    """Folders searched for plugin modules besides ``sys.path``: the current folder and, for a
    scenario file, its folder."""
    folders = [str(Path.cwd())]
    if source and Path(source).is_file():
        folders.append(str(Path(source).resolve().parent))
    return folders


def _load_plugins(plugins: Any, source: str | None) -> None:
    """Import the scenario's plugin modules (they register components) before validating the
    blocks that may name their types. Modules are looked up on ``sys.path`` and, for a scenario
    file, in its folder and the current folder."""
    if plugins is None:
        plugins = []
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise _KeyError("plugins", f"expected a list of module names, found {_describe(plugins)}")
    if not plugins:
        return
    try:
        registry.load_components(plugins, plugin_search_path(source))
    except registry.PluginError as exc:
        raise _KeyError(f"plugins.{exc.index}", f"cannot import plugin module {exc.module!r}: {exc.reason}") from None


def _check_metrics(scenario: Scenario) -> None:
    names = registry.METRICS.names()
    include = names if scenario.metrics.include == "all" else scenario.metrics.include
    for i, name in enumerate(include):
        if name not in names:
            raise _KeyError(f"metrics.include.{i}", f"expected a metric name (one of {names}), found {name!r}")
    for i, name in enumerate(scenario.metrics.exclude):
        if name not in names:
            raise _KeyError(f"metrics.exclude.{i}", f"expected a metric name, found {name!r}")
    for name, params in scenario.metrics.params.items():
        if name not in names:
            raise _KeyError(f"metrics.params.{name}", f"expected a metric name, found {name!r}")
        _model(registry.METRICS.settings_model(name), params, f"metrics.params.{name}")


def _check_override(scenario: Scenario, override: dict[str, Any], path: str, shown_key: str | None = None) -> None:
    base = scenario.to_dict()
    base.pop("variants")
    base.pop("sweep")
    for dotted, _ in _flatten(override):
        top = dotted.split(".")[0]
        if top in ("variants", "sweep"):
            raise _KeyError(f"{path}", f"an override cannot change {top!r}")
        if top not in Scenario.model_fields:
            raise _KeyError(f"{path}.{dotted}", f"unknown key {top!r}; expected one of {sorted(Scenario.model_fields)}")
    try:
        _validate(apply_overrides(base, override), None, None)
    except ScenarioError as exc:
        if shown_key is not None:  # a sweep value: name the list entry
            raise _KeyError(path, f"{exc.detail} (sweep value for {exc.key})", shown_key) from None
        raise _KeyError(f"{path}.{exc.key}" if exc.key else path, exc.detail) from None


def _located(error: _KeyError, source: str | None, nodes: yaml.Node | None) -> ScenarioError:
    line = _line_of(nodes, error.path) if nodes is not None else None
    return ScenarioError(error.message, file=source, line=line, key=error.shown or None)


def _line_of(node: yaml.Node | None, dotted: str) -> int | None:
    """1-based line of the deepest YAML node found along a dotted key path.

    A YAML key may itself contain dots (``population.size`` under ``sweep``), so at each
    mapping the longest run of remaining parts that names a key wins.
    """
    line = None if node is None else node.start_mark.line + 1
    parts = [p for p in dotted.split(".") if p]
    while parts and node is not None:
        child, used = None, 0
        if isinstance(node, yaml.MappingNode):
            keys = {str(k.value): (k, v) for k, v in node.value}
            for n in range(len(parts), 0, -1):
                if ".".join(parts[:n]) in keys:
                    key_node, child = keys[".".join(parts[:n])]
                    line, used = key_node.start_mark.line + 1, n
                    break
        elif isinstance(node, yaml.SequenceNode) and parts[0].isdigit() and int(parts[0]) < len(node.value):
            child, used = node.value[int(parts[0])], 1
            line = child.start_mark.line + 1
        if child is None:
            break
        node, parts = child, parts[used:]
    return line


