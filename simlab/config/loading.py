"""Loading: safe YAML reading and :func:`load_scenario`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from simlab.config.overrides import apply_overrides
from simlab.config.schema import Scenario
from simlab.config.validation import _validate
from simlab.errors import ScenarioError


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
    ensure_components()
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


def ensure_components() -> None:
    """Import the modules that register components (lazy: keeps `import simlab` light)."""
    import simlab.components  # noqa: F401


def dump_yaml(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.to_dict(), sort_keys=False, allow_unicode=True)

