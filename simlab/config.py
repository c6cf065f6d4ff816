"""Scenario YAML: safe loading, validation with pydantic, overrides, variants and sweeps.

A scenario is a YAML mapping with the top-level keys of DESIGN.md §3. Each component is
``{type: name, ...settings}``; the settings are validated by the registered class's pydantic
``Settings`` model, so unknown keys and bad values fail at load time with the file, line and
key path of the offending value.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml

from simlab import registry
from simlab.errors import ScenarioError

COMPONENTS = {
    "population": registry.POPULATIONS,
    "network": registry.NETWORKS,
    "catalog": registry.CATALOGS,
    "behavior": registry.BEHAVIORS,
    "dynamics": registry.DYNAMICS,
    "recommender": registry.RECOMMENDERS,
}
DEFAULT_TYPES = {
    "population": "uniform",
    "network": "erdos_renyi",
    "catalog": "default",
    "behavior": "default",
    "dynamics": "assimilation",
    "recommender": "popularity",
}


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class CandidateSettings(_Strict):
    """Candidate generation: C candidates per active user mixed from several sources.

    The weights are relative shares of C; a source with weight 0 is skipped.
    """

    size: int = pydantic.Field(100, ge=1, le=100_000)
    recent: float = pydantic.Field(0.2, ge=0)
    popular: float = pydantic.Field(0.2, ge=0)
    random: float = pydantic.Field(0.3, ge=0)
    social: float = pydantic.Field(0.15, ge=0)
    history: float = pydantic.Field(0.15, ge=0)
    recent_window: int = pydantic.Field(
        200, ge=1, le=100_000_000, description="the newest items the `recent` source draws from"
    )
    popular_pool: int = pydantic.Field(
        200, ge=1, le=100_000_000, description="the most engaged items the `popular` source draws from"
    )

    @pydantic.model_validator(mode="after")
    def _some_source(self) -> CandidateSettings:
        if self.recent + self.popular + self.random + self.social + self.history <= 0:
            raise ValueError("at least one candidate source needs a positive weight")
        return self


class PolicySettings(_Strict):
    """How scores become a slate: top_k, epsilon_greedy (whole slate random with prob epsilon),
    softmax (Plackett–Luce sampling at a temperature)."""

    type: Literal["top_k", "epsilon_greedy", "softmax"] = "top_k"
    epsilon: float = pydantic.Field(0.1, ge=0, le=1)
    temperature: float = pydantic.Field(1.0, gt=0)


class RecommenderCommon(_Strict):
    """Settings every recommender shares (the loop uses them); the rest go to the type."""

    type: str
    retrain_every: int = pydantic.Field(1, ge=1)
    slate_size: int = pydantic.Field(10, ge=1, le=1000)
    history_length: int = pydantic.Field(20, ge=1, le=1000)
    log_capacity: int = pydantic.Field(200_000, ge=1, le=10_000_000)
    candidates: CandidateSettings = CandidateSettings()
    policy: PolicySettings = PolicySettings()


class MetricsSettings(_Strict):
    """Which metrics to record (default: all registered) and per-metric parameters."""

    include: list[str] | Literal["all"] = "all"
    exclude: list[str] = []
    every: int = pydantic.Field(1, ge=1, description="record metrics every this many steps")
    params: dict[str, dict[str, Any]] = {}


class OutputSettings(_Strict):
    dir: str = "runs"
    snapshot_every: int = pydantic.Field(10, ge=0, description="0 = no snapshots")
    checkpoint_every: int = pydantic.Field(0, ge=0, description="0 = no checkpoints")
    figures: bool = True
    report: bool = True
    parquet: bool = True


class Scenario(_Strict):
    """A validated scenario with all defaults filled in."""

    name: str = pydantic.Field("scenario", pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    seed: int = pydantic.Field(0, ge=0, lt=2**63)
    replicates: int = pydantic.Field(1, ge=1, le=100_000)
    steps: int = pydantic.Field(50, ge=0, le=10_000_000)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    population: dict[str, Any] = {}
    network: dict[str, Any] = {}
    catalog: dict[str, Any] = {}
    behavior: dict[str, Any] = {}
    dynamics: dict[str, Any] = {}
    recommender: dict[str, Any] = {}
    interventions: list[dict[str, Any]] = []
    metrics: MetricsSettings = MetricsSettings()
    output: OutputSettings = OutputSettings()
    variants: dict[str, dict[str, Any]] = {}
    sweep: dict[str, list[Any]] = {}

    # where the document came from, for error messages (not part of the YAML)
    _source: str | None = pydantic.PrivateAttr(None)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def tasks(self) -> list[tuple[str, Scenario]]:
        """(label, scenario) for each variant x sweep point; labels are metrics.csv `variant`."""
        base = self.to_dict()
        base_variants, base_sweep = base.pop("variants"), base.pop("sweep")
        variant_docs = [("base", base)] if not base_variants else []
        for name, override in base_variants.items():
            variant_docs.append((name, apply_overrides(base, override)))
        keys = list(base_sweep)
        out = []
        for name, doc in variant_docs:
            for values in itertools.product(*(base_sweep[k] for k in keys)) if keys else [()]:
                point = apply_overrides(doc, dict(zip(keys, values)))
                label = name
                if keys:
                    point_name = ",".join(f"{k}={v}" for k, v in zip(keys, values))
                    label = point_name if name == "base" else f"{name}|{point_name}"
                out.append((label, _validate(point, self._source, None)))
        return out


# --------------------------------------------------------------------------- overrides


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = doc
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    last = keys[-1]
    # changing a component's type replaces that component's settings: the old type's
    # settings would not fit the new one
    if last == "type" and len(keys) == 2 and keys[0] in COMPONENTS and node.get("type") != value:
        # loop-level recommender settings (slate size, candidates, ...) stay: variants compare
        # recommenders under the same loop
        kept = {k: v for k, v in node.items() if keys[0] == "recommender" and k in RecommenderCommon.model_fields}
        node.clear()
        node.update(kept)
    node[last] = value


def _flatten(override: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    # a component block that names a type is applied whole, type first
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not (dotted in COMPONENTS and "type" in value):
            items.extend(_flatten(value, dotted + "."))
        elif isinstance(value, dict) and dotted in COMPONENTS:
            items.append((dotted + ".type", value["type"]))
            items.extend((f"{dotted}.{k}", v) for k, v in value.items() if k != "type")
        else:
            items.append((dotted, value))
    return items


def apply_overrides(doc: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``doc`` with ``override`` applied (nested mapping or dotted keys)."""
    out = copy.deepcopy(doc)
    flat = _flatten(override)
    flat.sort(key=lambda kv: not kv[0].endswith(".type"))  # types first, then their settings
    for dotted, value in flat:
        _set_dotted(out, dotted, copy.deepcopy(value))
    return out


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}``; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise ScenarioError(f"expected dotted.key=value, found {item!r}", file="--set")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ScenarioError(f"cannot parse value {raw!r}: {exc}", file="--set", key=key) from None
    return out


# --------------------------------------------------------------------------- validation


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


# --------------------------------------------------------------------------- loading


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    source = str(path)
    if not path.exists():
        raise ScenarioError("file not found", file=source)
    if path.is_dir():
        raise ScenarioError("expected a scenario YAML file, found a directory", file=source)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"expected UTF-8 text, found an undecodable byte at offset {exc.start}", file=source
        ) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror}", file=source) from None
    try:
        nodes = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(
            f"invalid YAML: {problem}", file=source, line=None if mark is None else mark.line + 1
        ) from None
    if doc is None:
        doc = {}
    return doc, nodes


def load_scenario(source: str | Path | dict[str, Any], overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario from a YAML path or a dict, applying dotted overrides.

    Raises :class:`simlab.errors.ScenarioError` with file, line and key path on bad input.
    """
    _ensure_components()
    nodes = None
    if isinstance(source, dict):
        doc, name = copy.deepcopy(source), "<dict>"
    else:
        path = Path(source)
        doc, nodes = _read_yaml(path)
        name = str(path)
    if overrides:
        if not isinstance(doc, dict):
            raise ScenarioError("expected a mapping of scenario keys", file=name)
        for key in overrides:
            top = key.split(".")[0]
            if top not in Scenario.model_fields:
                raise ScenarioError(
                    f"unknown key {top!r}; expected one of {sorted(Scenario.model_fields)}", file="--set", key=key
                )
        try:
            return _validate(apply_overrides(doc, overrides), name, nodes)
        except ScenarioError as exc:
            if exc.key and any(exc.key == k or exc.key.startswith(k + ".") or k.startswith(exc.key) for k in overrides):
                raise ScenarioError(exc.detail, file="--set", key=exc.key) from None
            raise
    return _validate(doc, name, nodes)


def _ensure_components() -> None:
    """Import the modules that register components (lazy: keeps `import simlab` light)."""
    import simlab.components  # noqa: F401


def dump_yaml(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.to_dict(), sort_keys=False, allow_unicode=True)
