"""Registries map the ``type:`` names used in scenario YAML to component classes.

One registry per pluggable kind (population, network, catalog, behavior, dynamics, recommender,
intervention, metric). Ranking policies and candidate sources are small fixed sets chosen inside
the ``recommender`` block (see simlab.policies and simlab.candidates).  A component class declares its settings as a
pydantic model in ``Settings`` (extra keys forbidden) and is built as ``cls(settings)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pydantic

T = TypeVar("T")


class EmptySettings(pydantic.BaseModel):
    """Settings of a component that takes none."""

    model_config = pydantic.ConfigDict(extra="forbid")


class Registry:
    """Name -> class table for one kind of component."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def decorator(cls: type[T]) -> type[T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} type {name!r} registered twice")
            self._entries[name] = cls
            return cls

        return decorator

    def get(self, name: str) -> type:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.kind} type {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def settings_model(self, name: str) -> type[pydantic.BaseModel]:
        return getattr(self.get(name), "Settings", EmptySettings)

    def build(self, spec: dict[str, Any]) -> Any:
        """Build a component from ``{type: name, **settings}``."""
        settings = dict(spec)
        name = settings.pop("type")
        return self.get(name)(self.settings_model(name)(**settings))


POPULATIONS = Registry("population")
NETWORKS = Registry("network")
CATALOGS = Registry("catalog")
BEHAVIORS = Registry("behavior")
DYNAMICS = Registry("dynamics")
RECOMMENDERS = Registry("recommender")
INTERVENTIONS = Registry("intervention")
METRICS = Registry("metric")

ALL = {
    r.kind: r
    for r in (
        POPULATIONS,
        NETWORKS,
        CATALOGS,
        BEHAVIORS,
        DYNAMICS,
        RECOMMENDERS,
        INTERVENTIONS,
        METRICS,
    )
}
