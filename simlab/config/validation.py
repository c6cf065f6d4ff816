"""Validation: each component block through its registered settings model, errors located
at the file, line and key path of the offending value.

A scenario is validated once, when it is loaded: each block into an instance of its type's
``Settings`` (a :class:`~simlab.config.schema.Component`), the recommender block's loop keys
into :class:`~simlab.config.schema.LoopSettings`, then the cross-component checks (the
:class:`~simlab.core.protocols.ChecksFiles` and :class:`~simlab.core.protocols.ChecksScenario`
hooks), then each variant x sweep point once (:func:`validate_document`).
"""

from __future__ import annotations

import itertools
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from simlab import registry
from simlab.config.overrides import apply_overrides, flatten
from simlab.config.schema import (
    COMPONENTS,
    DEFAULT_TYPES,
    LOOP_KEYS,
    YAML_KEYS,
    Component,
    LoopSettings,
    Scenario,
    TaskPoint,
)
from simlab.core.errors import ScenarioError, choices
from simlab.core.limits import hint, limit
from simlab.core.protocols import ChecksFiles, ChecksScenario
from simlab.society.datafiles import DataFileError

M = TypeVar("M", bound=pydantic.BaseModel)

# top-level keys that are the same for every task of a run: a variant or sweep point that
# changed them would be ignored (device, replicates) or break the run folder (name, output)
RUN_KEYS = ("device", "replicates", "name", "output", "plugins")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _block(kind: str, spec: Any, path: str) -> tuple[str, dict[str, Any]]:
    """The type name (the kind's default when absent) and the other keys of one
    ``{type: ..., **settings}`` block.
    """
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise _KeyError(path, f"expected a mapping like {{type: name, ...}}, found {_describe(spec)}")
    type_name = spec.get("type", DEFAULT_TYPES.get(kind))
    if type_name is None:
        raise _KeyError(f"{path}.type", "expected a type name, found nothing")
    reg = registry.ALL[kind]
    if not isinstance(type_name, str) or type_name not in reg:
        raise _KeyError(f"{path}.type", f"{choices(type_name, reg.names())}, found {_describe(type_name)}")
    return type_name, {k: v for k, v in spec.items() if k != "type"}


def _component(kind: str, spec: Any, path: str) -> Component:
    """Validate one ``{type: ..., **settings}`` block into its registered type's ``Settings``."""
    type_name, settings = _block(kind, spec, path)
    return Component(type=type_name, settings=_model(registry.ALL[kind].settings_model(type_name), settings, path))


def _recommender(spec: Any, path: str = "recommender") -> tuple[Component, LoopSettings]:
    """The recommender block: the loop settings written in it (with its policy block), and the
    recommender type's own settings.
    """
    type_name, settings = _block("recommender", spec, path)
    loop = {k: settings.pop(k) for k in LOOP_KEYS if k in settings}
    policy = loop.pop("policy", {})
    if not isinstance(policy, dict):
        raise _KeyError(f"{path}.policy", f"expected a valid dictionary, found {_describe(policy)}")
    loop_settings = _model(LoopSettings, loop, path)
    loop_settings = loop_settings.model_copy(update={"policy": _component("policy", policy, f"{path}.policy")})
    # the block also takes the loop keys: name them too when a key is unknown
    model = registry.RECOMMENDERS.settings_model(type_name)
    recommender = Component(type=type_name, settings=_model(model, settings, path, sorted([*LOOP_KEYS, "type"])))
    return recommender, loop_settings


class _KeyError(Exception):
    """A validation error at a dotted key path (``shown`` is how to print the path)."""

    def __init__(self, path: str, message: str, shown: str | None = None):
        super().__init__(message)
        self.path, self.message, self.shown = path, message, shown or path


def _model(model: type[M], data: dict[str, Any], path: str, also: list[str] | None = None) -> M:
    """Validate ``data`` with ``model``; ``also``: further keys the block accepts (named, with the
    model's, when a key is unknown).
    """
    _refuse_bools(model, data, path)
    try:
        validated = model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _from_pydantic(exc, path, data, model, also) from None
    _check_numbers(validated.model_dump(), path)  # before a JSON dump turns NaN into None
    return validated


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
    ``size: true`` would be one user), in nested settings models too.
    """
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
    integer within int64 (a tensor size or index), in a validated block.
    """
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
    if model is Scenario and not parents:
        return sorted(YAML_KEYS)
    for part in parents:
        field = model.model_fields.get(part)
        nested = getattr(field, "annotation", None) if field else None
        if not (isinstance(nested, type) and issubclass(nested, pydantic.BaseModel)):
            return []
        model = nested
    return sorted(model.model_fields)


def validate_document(doc: Any, source: str | None, nodes: yaml.Node | None) -> Scenario:
    """Validate a scenario document once: the scenario itself, then each of its variant x sweep
    points (the scenario's :meth:`~simlab.config.schema.Scenario.task_points`).

    Args:
        doc: the document as read from YAML (or given as a dict), overrides applied.
        source: the file it came from (or ``<dict>``), named by errors.
        nodes: the YAML node tree of the file, for the line of an error (None: no lines).

    Returns:
        The scenario, its blocks validated into their types' ``Settings`` and its task points
        expanded and validated.

    Raises:
        ScenarioError: the first problem found, with its file, line and key path.
    """
    scenario = _checked(doc, source, nodes)
    try:
        _check_grid(scenario)
        points = _expand(scenario)
    except _KeyError as error:
        raise _located(error, source, nodes) from None
    except DataFileError as error:  # located in the data file, not the scenario
        raise ScenarioError(error.detail, file=error.path, line=error.line, key=getattr(error, "key", None)) from None
    scenario._points = points
    for point in points:
        point.scenario._source = source
    return scenario


def _checked(doc: Any, source: str | None, nodes: yaml.Node | None) -> Scenario:
    """:func:`_scenario` with its errors as one located :class:`ScenarioError`."""
    try:
        scenario = _scenario(doc, source)
    except pydantic.ValidationError as exc:
        error = _from_pydantic(exc, "", doc, Scenario)
        raise _located(error, source, nodes) from None
    except _KeyError as error:
        raise _located(error, source, nodes) from None
    except DataFileError as error:  # located in the data file, not the scenario
        raise ScenarioError(error.detail, file=error.path, line=error.line, key=getattr(error, "key", None)) from None
    scenario._source = source
    return scenario


def _scenario(doc: Any, source: str | None) -> Scenario:
    """One scenario document (its variants and sweep not expanded): every block into its type's
    settings, the top-level keys, then the cross-component checks.
    """
    if not isinstance(doc, dict):
        raise _KeyError("", f"expected a mapping of scenario keys, found {_describe(doc)}")
    if "loop" in doc:  # a field of the model, not a YAML key: the loop settings live in `recommender`
        raise _KeyError("loop", f"unknown key; {choices('loop', YAML_KEYS)}")
    fields: dict[str, Any] = dict(doc)
    _load_plugins(fields.get("plugins"), source)
    for kind in COMPONENTS:
        if kind == "recommender":
            fields["recommender"], fields["loop"] = _recommender(fields.get("recommender"))
        else:
            fields[kind] = _component(kind, fields.get(kind), kind)
    interventions = fields.get("interventions") or []
    if not isinstance(interventions, list):
        raise _KeyError("interventions", f"expected a list, found {_describe(interventions)}")
    fields["interventions"] = [
        _component("intervention", spec, f"interventions.{i}") for i, spec in enumerate(interventions)
    ]
    _refuse_bools(Scenario, fields, "")
    scenario = Scenario.model_validate(fields)
    _check_components(scenario)
    _check_metrics(scenario)
    return scenario


def plugin_search_path(source: str | None) -> list[str]:
    """Folders searched for plugin modules besides ``sys.path``: the current folder and, for a
    scenario file, its folder.
    """
    folders = [str(Path.cwd())]
    if source and Path(source).is_file():
        folders.append(str(Path(source).resolve().parent))
    return folders


def _load_plugins(plugins: Any, source: str | None) -> None:
    """Import the scenario's plugin modules (they register components) before validating the
    blocks that may name their types. Modules are looked up on ``sys.path`` and, for a scenario
    file, in its folder and the current folder.
    """
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


def _expand(scenario: Scenario) -> list[TaskPoint]:
    """Each variant x sweep point of ``scenario`` (variants in order, the sweep grid in
    row-major order of its keys), each validated once; the scenario itself when it has neither.
    """
    if not scenario.variants and not scenario.sweep:
        return [TaskPoint("base", "base", {}, scenario)]
    for name, changes in scenario.variants.items():
        if not isinstance(changes, dict):
            raise _KeyError(f"variants.{name}", "expected a mapping of overrides")
        _check_override_keys(changes, f"variants.{name}")
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
            _check_override_keys({key: value}, f"sweep.{key}.{i}", shown_key=f"sweep.{key}[{i}]")
    base = scenario.to_dict()
    for key in ("variants", "sweep", "sweep_baseline"):  # a task point has none of them
        base.pop(key)
    variants: dict[str, dict[str, Any] | None] = dict(scenario.variants) or {"base": None}
    keys = list(scenario.sweep)
    points = []
    for name, override in variants.items():
        variant_doc = base if override is None else apply_overrides(base, override)
        for indices in itertools.product(*(range(len(scenario.sweep[k])) for k in keys)):
            point = {k: scenario.sweep[k][i] for k, i in zip(keys, indices)}
            label = name
            if keys:
                point_name = ",".join(f"{k}={v}" for k, v in point.items())
                label = point_name if name == "base" else f"{name}|{point_name}"
            try:
                validated = _checked(apply_overrides(variant_doc, point), None, None)
            except ScenarioError as exc:
                raise _blame(exc, base, name, override, dict(zip(keys, indices)), scenario, label) from None
            points.append(TaskPoint(label, name, point, validated))
    return points


def _check_override_keys(override: dict[str, Any], path: str, shown_key: str | None = None) -> None:
    """Refuse an override (a variant or a sweep value) that changes a key no task may change."""
    for dotted, _ in flatten(override):
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
        if top not in YAML_KEYS:
            raise _KeyError(f"{path}.{dotted}", f"unknown key {top!r}; {choices(top, YAML_KEYS)}")


def _blame(
    error: ScenarioError,
    base: dict[str, Any],
    variant: str,
    override: dict[str, Any] | None,
    indices: dict[str, int],
    scenario: Scenario,
    label: str,
) -> Exception:
    """The error of a task point that failed, at the override that makes it fail: the variant,
    else a sweep value (each tried alone on the base; only here, on the way to an error), else
    the combination.
    """
    parts: list[tuple[dict[str, Any], str, str | None]] = []  # (override, its path, how to show it)
    if override is not None:
        parts.append((override, f"variants.{variant}", None))
    for key, i in indices.items():
        parts.append(({key: scenario.sweep[key][i]}, f"sweep.{key}.{i}", f"sweep.{key}[{i}]"))
    for part, path, shown in parts:
        alone = error if len(parts) == 1 else _error_of(apply_overrides(base, part))
        if alone is not None:
            return _override_error(alone, path, shown)
    where = f"variants.{variant}" if override is not None else "sweep"
    combined = f"{error.detail} (at {error.key} in task point {label!r}: its overrides are valid alone, not together)"
    return _override_error(ScenarioError(combined, file=error.file, line=error.line), where, None)


def _error_of(doc: dict[str, Any]) -> ScenarioError | None:
    try:
        _checked(doc, None, None)
    except ScenarioError as exc:
        return exc
    return None


def _override_error(exc: ScenarioError, path: str, shown_key: str | None) -> Exception:
    """An override's error, at the override's key path (``shown_key``: how to print a sweep value's)."""
    if exc.file is not None:  # a data file's own error (file and line in that file)
        return DataFileKeyError(exc.file, exc.detail, exc.line, exc.key)
    if shown_key is not None:  # a sweep value: name the list entry
        return _KeyError(path, f"{exc.detail} (sweep value for {exc.key})", shown_key)
    return _KeyError(f"{path}.{exc.key}" if exc.key else path, exc.detail)


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
    """A data file's error with the scenario key that names the file."""

    def __init__(self, path: str, detail: str, line: int | None, key: str | None):
        super().__init__(path, detail, line)
        self.key = key


def _check_components(scenario: Scenario) -> None:
    """The components' load-time hooks, through their Protocols: first each block's data files
    (:class:`ChecksFiles`: read and checked now, not when a task starts), then the checks across
    components (:class:`ChecksScenario`: e.g. karate_club needs 34 users), interventions too.
    """
    doc = scenario.to_dict()  # the hooks read the YAML document (simlab.core does not know Scenario)
    for kind, block in scenario.blocks().items():
        component = registry.ALL[kind].get(block.type)
        if issubclass(component, ChecksFiles):
            try:
                component.check_files(doc)
            except DataFileKeyError:
                raise
            except DataFileError as error:  # the key of the block's path is added here
                raise DataFileKeyError(error.path, error.detail, error.line, f"{kind}.path") from None
    checked = [(kind, block) for kind, block in scenario.blocks().items()]
    checked += [(f"interventions.{i}", block) for i, block in enumerate(scenario.interventions)]
    for path, block in checked:
        kind = "intervention" if path.startswith("interventions.") else path
        component = registry.ALL[kind].get(block.type)
        if not issubclass(component, ChecksScenario):
            continue
        message = component.check_scenario(doc)  # a message about its type, or (its setting, message)
        if isinstance(message, tuple):
            raise _KeyError(f"{path}.{message[0]}", message[1])
        if message:
            raise _KeyError(f"{path}.type", message)


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
