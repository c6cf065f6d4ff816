"""Registries map the ``type:`` names used in scenario YAML to component classes.

One registry per pluggable kind: population, network, catalog, behavior, dynamics, recommender,
policy (inside the ``recommender`` block), intervention and metric. A component class declares
its settings as a pydantic model in ``Settings`` (extra keys forbidden) and is built as
``cls(settings)``; ``Registry[T].build`` returns a ``T``, the Protocol of that kind
(:mod:`simlab.protocols`). Scenario ``plugins`` name modules whose import registers more types
(:func:`load_components`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pydantic

if TYPE_CHECKING:  # the kinds are typed by their Protocols
    from simlab.protocols import (
        Behavior,
        CatalogModel,
        Dynamics,
        Intervention,
        Metric,
        Network,
        Policy,
        Population,
        Recommender,
    )

T = TypeVar("T")
C = TypeVar("C", bound=type)


class EmptySettings(pydantic.BaseModel):
    """Settings of a component that takes none."""

    model_config = pydantic.ConfigDict(extra="forbid")


class Registry(Generic[T]):
    """Name -> class table for one kind of component; ``build`` returns a ``T``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, type] = {}

    def register(self, name: str) -> Callable[[C], C]:
        def decorator(cls: C) -> C:
            if name in self._entries and self._entries[name] is not cls:
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

    def build(self, spec: dict[str, Any]) -> T:
        """Build a component from ``{type: name, **settings}``."""
        settings = dict(spec)
        name = settings.pop("type")
        return self.get(name)(self.settings_model(name)(**settings))


POPULATIONS: Registry[Population] = Registry("population")
NETWORKS: Registry[Network] = Registry("network")
CATALOGS: Registry[CatalogModel] = Registry("catalog")
BEHAVIORS: Registry[Behavior] = Registry("behavior")
DYNAMICS: Registry[Dynamics] = Registry("dynamics")
RECOMMENDERS: Registry[Recommender] = Registry("recommender")
POLICIES: Registry[Policy] = Registry("policy")
INTERVENTIONS: Registry[Intervention] = Registry("intervention")
METRICS: Registry[Metric] = Registry("metric")

ALL: dict[str, Registry[Any]] = {
    r.kind: r
    for r in (
        POPULATIONS,
        NETWORKS,
        CATALOGS,
        BEHAVIORS,
        DYNAMICS,
        RECOMMENDERS,
        POLICIES,
        INTERVENTIONS,
        METRICS,
    )
}


class PluginError(Exception):
    """A plugin module named by a scenario could not be imported."""

    def __init__(self, module: str, index: int, reason: str):
        super().__init__(reason)
        self.module, self.index, self.reason = module, index, reason


# (kind, name) -> the plugin module whose import registered it (see plugin_components)
_ORIGIN: dict[tuple[str, str], str] = {}


def _entries() -> set[tuple[str, str]]:
    return {(kind, name) for kind, reg in ALL.items() for name in reg.names()}


def load_components(plugins: Iterable[str] = (), search: Iterable[str] = ()) -> None:
    """Register every built-in type, then import each plugin module (which registers its own),
    with the folders in ``search`` added to ``sys.path`` (and kept there, so that worker
    processes started from here find the same modules). The types each module's import added
    are remembered (:func:`plugin_components`).

    Imports are cached by Python, so calling this again (in every worker) is cheap. A plugin is
    code and runs with the user's rights; one that tries to end the process while it is imported
    (``sys.exit``, ``os._exit``) is an error like any other failed import, not a silent exit.
    """
    import simlab.components  # noqa: F401

    for folder in search:
        if folder not in sys.path:
            sys.path.append(folder)
    for index, module in enumerate(plugins):
        before = _entries()
        try:
            with _exits_refused():
                importlib.import_module(module)
        except (SystemExit, _ExitDuringImport) as exc:
            how = "os._exit" if isinstance(exc, _ExitDuringImport) else "sys.exit"
            raise PluginError(module, index, f"the module called {how}({exc.code!r}) while being imported") from None
        except Exception as exc:  # any failure of a user's module is a clear input error
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise PluginError(module, index, reason) from None
        for entry in _entries() - before:
            _ORIGIN.setdefault(entry, module)


class _ExitDuringImport(BaseException):
    """os._exit called by a plugin module while it is imported (a BaseException, so that a
    plugin's own ``except Exception`` does not swallow it)."""

    def __init__(self, code: object):
        super().__init__(code)
        self.code = code


@contextlib.contextmanager
def _exits_refused() -> Iterator[None]:
    """During the block, ``os._exit`` raises _ExitDuringImport instead of ending the process at once
    (it skips every handler, so it could not be reported otherwise)."""

    def refuse(code: int) -> None:
        raise _ExitDuringImport(code)

    real = os._exit
    os._exit = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real


def plugin_components(module: str) -> list[tuple[str, str]]:
    """The (kind, name) types plugin ``module`` registers: those its import added, and those
    whose class is defined in it or a submodule (for a module imported before simlab loaded it)."""
    found = []
    for kind, reg in ALL.items():
        for name in reg.names():
            defined = getattr(reg.get(name), "__module__", "")
            if _ORIGIN.get((kind, name)) == module or defined == module or defined.startswith(module + "."):
                found.append((kind, name))
    return found
