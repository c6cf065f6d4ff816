"""Overrides: dotted keys (``--set``, variants, sweep points) applied to a scenario document."""

from __future__ import annotations

import copy
import math
from typing import Any

from simlab.config.schema import COMPONENTS, LOOP_KEYS
from simlab.core.errors import ScenarioError


def is_block(dotted: str) -> bool:
    """Whether a dotted path names a ``{type: ..., **settings}`` block: a component
    (``recommender``), an intervention (``interventions.0``) or the policy
    (``recommender.policy``).
    """
    keys = dotted.split(".")
    return (
        dotted in COMPONENTS
        or dotted == "recommender.policy"
        or (len(keys) == 2 and keys[0] == "interventions" and keys[1].isdigit())
    )


def _child(node: Any, key: str, dotted: str, rest: list[str]) -> Any:
    """The container under ``key`` (a list index or a mapping key), created if absent (a list
    when the next key is an index, else {}); a list index one past the end appends a new block,
    which an override may do only by giving its ``type`` (``rest``: the keys after ``key``).
    """
    if isinstance(node, list):
        if not key.isdigit():
            raise ScenarioError(f"expected a list index, found {key!r}", key=dotted)
        index = int(key)
        parent = dotted.split(f".{key}", 1)[0] if f".{key}" in dotted else "the list"
        if index > len(node):
            raise ScenarioError(
                f"list index {index} is past the end of {parent} (length {len(node)}); "
                f"a new entry goes at index {len(node)}",
                key=dotted,
            )
        if index == len(node) and rest not in (["type"], []):
            what = "is empty" if not node else f"has {len(node)} entries (0 to {len(node) - 1})"
            raise ScenarioError(
                f"{parent} {what}, so this would add entry {index} without a type: set "
                f"{parent}.{index}.type as well (e.g. {parent}.{index}.type=NAME), or add the entry to the scenario",
                key=dotted,
            )
        if index == len(node):
            node.append({})
        if not isinstance(node[index], dict | list):
            node[index] = {}
        return node[index]
    if not isinstance(node.get(key), dict | list):
        node[key] = [] if node.get(key) is None and rest and rest[0].isdigit() else {}
    return node[key]


SWEEP = "sweep"  # the grid's block: axis name (a dotted setting path) -> values


def _set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    if dotted.startswith(SWEEP + "."):
        # a sweep's keys are dotted setting paths themselves: sweep.behavior.b_ext is one axis
        if not isinstance(doc.get(SWEEP), dict):
            doc[SWEEP] = {}
        doc[SWEEP][dotted[len(SWEEP) + 1 :]] = value
        return
    keys = dotted.split(".")
    node: Any = doc
    for depth, key in enumerate(keys[:-1]):
        node = _child(node, key, dotted, keys[depth + 1 :])
    last = keys[-1]
    if isinstance(node, list):
        _child(node, last, dotted, [])  # checks the index (and appends at the end)
        node[int(last)] = value
        return
    # changing a block's type replaces its settings: the old type's settings would not fit
    if last == "type" and is_block(".".join(keys[:-1])) and node.get("type") != value:
        # loop-level recommender settings (slate size, candidates, ...) stay: variants compare
        # recommenders under the same loop
        kept = {k: v for k, v in node.items() if keys[:-1] == ["recommender"] and k in LOOP_KEYS}
        node.clear()
        node.update(kept)
    node[last] = value


def flatten(override: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``override`` as (dotted key, value) pairs; a block that names its type stays whole."""
    items: list[tuple[str, Any]] = []
    # a block that names a type is applied whole, type first
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if dotted == SWEEP:
            items.append((dotted, value))  # whole: its keys are dotted paths, not nesting
        elif isinstance(value, dict) and value and not (is_block(dotted) and "type" in value):
            items.extend(flatten(value, dotted + "."))
        elif isinstance(value, dict) and is_block(dotted):
            items.append((dotted + ".type", value["type"]))
            items.extend((f"{dotted}.{k}", v) for k, v in value.items() if k != "type")
        else:
            items.append((dotted, value))
    return items


def apply_overrides(doc: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``doc`` with ``override`` applied (nested mapping or dotted keys)."""
    out = copy.deepcopy(doc)
    flat = flatten(override)
    flat.sort(key=lambda kv: not kv[0].endswith(".type"))  # types first, then their settings
    for dotted, value in flat:
        _set_dotted(out, dotted, copy.deepcopy(value))
    return out


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}``; values parsed as YAML scalars."""
    from simlab.config.loading import parse_yaml  # loading imports this module

    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise ScenarioError(f"expected dotted.key=value, found {item!r}", file="--set")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not raw.strip():
            out[key] = ""
            continue
        try:
            # the scenario file's loader and limits (depth, aliases, integer digits)
            value, _ = parse_yaml(raw, "--set")
        except ScenarioError as exc:
            raise ScenarioError(f"cannot parse value {_shown(raw)}: {exc.detail}", file="--set", key=key) from None
        if _non_finite(value):
            # refused here, with what the user wrote: later, a JSON dump would turn nan into None
            raise ScenarioError(f"expected a finite number, found {_shown(raw.strip())}", file="--set", key=key)
        out[key] = value
    return out


def _shown(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:37] + "..."


def _non_finite(value: Any) -> bool:
    """Whether a parsed value is or contains a NaN or an infinity (as a float or as text)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):  # "nan", "inf": YAML strings that pydantic would read as floats
        try:
            return not math.isfinite(float(value))
        except ValueError:
            return False
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False
