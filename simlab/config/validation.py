"""Validation: each component block through its registered settings model, errors located
at the file, line and key path of the offending value."""

from __future__ import annotations

import json
import math
import types
import typing
from pathlib import Path
from typing import Any

import pydantic
import yaml

from simlab import registry
from simlab.config.overrides import _flatten, apply_overrides
from simlab.config.schema import COMPONENTS, DEFAULT_TYPES, RecommenderCommon, Scenario
from simlab.core.errors import ScenarioError, choices
from simlab.core.limits import hint, limit
from simlab.society.datafiles import DataFileError

# top-level keys that are the same for every task of a run: a variant or sweep point that
# changed them would be ignored (device, replicates) or break the run folder (name, output)
RUN_KEYS = ("device", "replicates", "name", "output", "plugins")


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
        raise _KeyError(f"{path}.type", f"{choices(type_name, reg.names())}, found {_describe(type_name)}")
    spec["type"] = type_name
    common: dict[str, Any] = {}
    if kind == "recommender":
        common_keys = set(RecommenderCommon.model_fields)
        common = {k: v for k, v in spec.items() if k in common_keys}
        spec = {k: v for k, v in spec.items() if k not in common_keys}
        common = _model(RecommenderCommon, {**common, "type": type_name}, path)
        common["policy"] = _component("policy", common["policy"], f"{path}.policy")
    settings = {k: v for k, v in spec.items() if k != "type"}
    # a recommender block also takes the loop keys every recommender shares: list them too
    also = sorted(RecommenderCommon.model_fields) if kind == "recommender" else []
    validated = _model(reg.settings_model(type_name), settings, path, also)
    return {**common, "type": type_name, **validated}


class _KeyError(Exception):
    """A validation error at a dotted key path (``shown`` is how to print the path)."""

    def __init__(self, path: str, message: str, shown: str | None = None):
        super().__init__(message)
        self.path, self.message, self.shown = path, message, shown or path


def _model(
    model: type[pydantic.BaseModel], data: dict[str, Any], path: str, also: list[str] | None = None
) -> dict[str, Any]:
    """Validate ``data`` with ``model``; ``also``: further keys the block accepts (named, with the
    model's, when a key is unknown)."""
    _refuse_bools(model, data, path)
    try:
        validated = model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _from_pydantic(exc, path, data, model, also) from None
    _check_numbers(validated.model_dump(), path)  # before the JSON dump turns NaN into None
    return validated.model_dump(mode="json")


_NUMBERS = (int, float)
FLOAT32_MAX = 3.4028234663852886e38


def _is_numeric(annotation: Any) -> bool:
    """Whether a field holds numbers: int, float, Optional of them, or a list of them."""
    if typing.get_origin(annotation) is list:
        return all(_is_numeric(a) for a in typing.get_args(annotation))
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    members = [a for a in (args or (annotation,)) if a is not type(None)]
    return bool(members) and all(a in _NUMBERS for a in members)


def _refuse_bools(model: type[pydantic.BaseModel], data: Any, path: str) -> None:
    """Refuse ``true``/``false`` where a number is expected (pydantic's lax mode reads True as 1:
    ``size: true`` would be one user), in nested settings models too."""
    if not isinstance(data, dict):
        return
    for name, field in model.model_fields.items():
        value, where = data.get(name), f"{path}.{name}" if path else name
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, pydantic.BaseModel):
            _refuse_bools(nested, value, where)
        elif _is_numeric(field.annotation):
            items = value if isinstance(value, list) else [value]
            if any(isinstance(v, bool) for v in items):
                raise _KeyError(where, f"expected a number, found {_describe(value)}")


def _check_numbers(value: Any, path: str) -> None:
    """Every float finite and within float32 (the run's tensors: 1e308 would become inf), every
    integer within int64 (a tensor size or index), in a validated block."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_numbers(item, f"{path}.{i}")
    elif isinstance(value, float) and not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
        raise _KeyError(path, f"expected a finite number within float32 range (|x| <= 3.4e38), found {value!r}")
    elif isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise _KeyError(path, f"expected an integer within int64, found one with {len(str(abs(value)))} digits")


def _from_pydantic(
    exc: pydantic.ValidationError,
    prefix: str,
    data: Any,
    model: type[pydantic.BaseModel],
    also: list[str] | None = None,
) -> _KeyError:
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
        allowed = _allowed_keys(model, loc[:-1]) + ([] if loc[:-1] else list(also or []))
        message = "unknown key" + (f"; {choices(loc[-1] if loc else '', allowed)}" if allowed else "")
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
        _check_files(doc)
        for kind, reg in COMPONENTS.items():
            # a component may check settings of the others (e.g. karate_club needs 34 users);
            # it returns a message (about its type) or (its setting, message)
            check = getattr(reg.get(doc[kind]["type"]), "check_scenario", None)
            message = check(doc) if check else None
            if isinstance(message, tuple):
                raise _KeyError(f"{kind}.{message[0]}", message[1])
            if message:
                raise _KeyError(f"{kind}.type", message)
        for index, spec in enumerate(doc["interventions"]):  # the same hook for interventions
            check = getattr(registry.INTERVENTIONS.get(spec["type"]), "check_scenario", None)
            message = check(doc) if check else None
            if isinstance(message, tuple):
                raise _KeyError(f"interventions.{index}.{message[0]}", message[1])
            if message:
                raise _KeyError(f"interventions.{index}.type", message)
        _refuse_bools(Scenario, doc, "")
        scenario = Scenario.model_validate(doc)
        _check_metrics(scenario)
        _check_grid(scenario)
        for name, override in scenario.variants.items():
            if not isinstance(override, dict):
                raise _KeyError(f"variants.{name}", "expected a mapping of overrides")
            _check_override(scenario, override, f"variants.{name}")
        for key, values in scenario.sweep.items():
            if not values:
                raise _KeyError(f"sweep.{key}", "expected a non-empty list of values, found []")
            seen: dict[str, int] = {}
            for i, value in enumerate(values):
                first = seen.setdefault(_canonical(value), i)
                if first != i:
                    raise _KeyError(
                        f"sweep.{key}.{i}",
                        f"expected distinct sweep values, found a repeat of entry {first} ({_describe(value)})",
                        f"sweep.{key}[{i}]",
                    )
            for i, value in enumerate(values):
                _check_override(scenario, {key: value}, f"sweep.{key}.{i}", shown_key=f"sweep.{key}[{i}]")
    except pydantic.ValidationError as exc:
        error = _from_pydantic(exc, "", doc, Scenario)
        raise _located(error, source, nodes) from None
    except _KeyError as error:
        raise _located(error, source, nodes) from None
    except DataFileError as error:  # located in the data file, not the scenario
        raise ScenarioError(error.detail, file=error.path, line=error.line, key=getattr(error, "key", None)) from None
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
    if not include:
        raise _KeyError("metrics.include", 'expected at least one metric name (or "all"), found []')
    for i, name in enumerate(include):
        if name not in names:
            raise _KeyError(f"metrics.include.{i}", f"unknown metric; {choices(name, names)}, found {name!r}")
    for i, name in enumerate(scenario.metrics.exclude):
        if name not in names:
            raise _KeyError(f"metrics.exclude.{i}", f"unknown metric; {choices(name, names)}, found {name!r}")
    for name, params in scenario.metrics.params.items():
        if name not in names:
            raise _KeyError(f"metrics.params.{name}", f"unknown metric; {choices(name, names)}, found {name!r}")
        _model(registry.METRICS.settings_model(name), params, f"metrics.params.{name}")
    if not set(include) - set(scenario.metrics.exclude):
        raise _KeyError("metrics.exclude", "expected at least one metric left after exclude, found none")


def _check_override(scenario: Scenario, override: dict[str, Any], path: str, shown_key: str | None = None) -> None:
    base = scenario.to_dict()
    base.pop("variants")
    base.pop("sweep")
    base.pop("sweep_baseline", None)  # it names sweep points, which an override does not have
    for dotted, _ in _flatten(override):
        top = dotted.split(".")[0]
        if top in ("variants", "sweep", "sweep_baseline"):
            raise _KeyError(f"{path}", f"an override cannot change {top!r}")
        if top in RUN_KEYS:
            raise _KeyError(
                f"{path}.{dotted}" if shown_key is None else path,
                f"expected a key a task can change, found {top!r}: it is the same for every task of a run "
                "(set it at the top level)",
                shown_key,
            )
        if top not in Scenario.model_fields:
            raise _KeyError(f"{path}.{dotted}", f"unknown key {top!r}; {choices(top, Scenario.model_fields)}")
    try:
        _validate(apply_overrides(base, override), None, None)
    except ScenarioError as exc:
        if exc.file is not None:  # a data file's own error (file and line in that file)
            raise DataFileKeyError(exc.file, exc.detail, exc.line, exc.key) from None
        if shown_key is not None:  # a sweep value: name the list entry
            raise _KeyError(path, f"{exc.detail} (sweep value for {exc.key})", shown_key) from None
        raise _KeyError(f"{path}.{exc.key}" if exc.key else path, exc.detail) from None


def _located(error: _KeyError, source: str | None, nodes: yaml.Node | None) -> ScenarioError:
    line = line_of(nodes, error.path) if nodes is not None else None
    return ScenarioError(error.message, file=source, line=line, key=error.shown or None)


def line_of(node: yaml.Node | None, dotted: str) -> int | None:
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


class DataFileKeyError(DataFileError):
    """A data file's error found while checking a variant or sweep point."""

    def __init__(self, path: str, detail: str, line: int | None, key: str | None):
        super().__init__(path, detail, line)
        self.key = key


def _check_files(doc: dict[str, Any]) -> None:
    """Each component's ``check_files(doc)`` hook: data files (population opinions, edge
    lists) read and checked now, at load time, not when a task starts. The hook raises
    DataFileError; the key of the block's ``path`` is added here."""
    for kind in COMPONENTS:
        check = getattr(registry.ALL[kind].get(doc[kind]["type"]), "check_files", None)
        if check is None:
            continue
        try:
            check(doc)
        except DataFileKeyError:
            raise
        except DataFileError as error:
            raise DataFileKeyError(error.path, error.detail, error.line, f"{kind}.path") from None


def _canonical(value: Any) -> str:
    """A sweep value as text, equal for equal points (1 and 1.0 are the same point)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str)


def _check_grid(scenario: Scenario) -> None:
    """Refuse a grid of tasks over the limits, with its size, before any point is expanded."""
    variants = max(1, len(scenario.variants))
    points = math.prod(len(v) for v in scenario.sweep.values() if isinstance(v, list))
    grid = variants * points
    key = "sweep" if scenario.sweep else "variants"
    if grid > limit("grid"):
        raise _KeyError(key, f"expected at most {limit('grid')} variants x sweep points, found {grid} ({hint('grid')})")
    tasks = grid * scenario.replicates
    if tasks > limit("tasks"):
        raise _KeyError(
            "replicates",
            f"expected at most {limit('tasks')} tasks, found {tasks} = {grid} points x {scenario.replicates} "
            f"replicates ({hint('tasks')})",
        )
