"""Registries map the ``type:`` names used in scenario YAML to component classes.

One registry per pluggable kind: population, network, catalog, behavior, dynamics, recommender,
policy (inside the ``recommender`` block), intervention, people (the link recommender) and
metric. Registration is declared,
as Gymnasium's ``register(id, entry_point="module:Class")``: each built-in type maps to a
``"module:Class"`` string below, and its module is imported only when the type is first used.
More types come from

- a scenario's ``plugins:`` (modules that call ``REGISTRY.register(name)`` as a class decorator
  or ``REGISTRY.register(name, "module:Class")``; :func:`load_components`), and
- installed packages, through ``importlib.metadata`` entry points in the group
  ``simlab.<kind>`` (e.g. ``[project.entry-points."simlab.intervention"] my_rule =
  "my_pkg.rules:MyRule"``).

A component class declares its settings as a pydantic model in ``Settings`` (extra keys
forbidden) and is built as ``cls(settings)``; ``Registry[T].build`` returns a ``T``, the
Protocol of that kind (:mod:`simlab.core.protocols`). This module imports nothing else of
simlab at run time, so every component can import it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pydantic

if TYPE_CHECKING:  # the kinds are typed by their Protocols
    from simlab.config.schema import Component
    from simlab.core.protocols import (
        Behavior,
        CatalogModel,
        Dynamics,
        Intervention,
        Metric,
        Network,
        PeopleRecommender,
        Policy,
        Population,
        Recommender,
    )

T = TypeVar("T")
C = TypeVar("C", bound=type)


class EmptySettings(pydantic.BaseModel):
    """Settings of a component that takes none."""

    model_config = pydantic.ConfigDict(extra="forbid")


def load_entry_point(entry_point: str) -> type:
    """``"package.module:Class"`` -> the class, importing the module.

    >>> load_entry_point("simlab.registry:EmptySettings").__name__
    'EmptySettings'
    """
    module, _, name = entry_point.partition(":")
    if not module or not name:
        raise ValueError(f"entry point {entry_point!r} is not of the form 'module:Class'")
    return getattr(importlib.import_module(module), name)


class Registry(Generic[T]):
    """Name -> class table for one kind of component; ``build`` returns a ``T``.

    Args:
        kind: the component kind, as in scenario files and error messages.
        entry_points: built-in types, name -> ``"module:Class"`` (imported on first use).
        modules: modules whose import registers more types (the metric columns, which are
            registered by the ``metric`` decorator where they are defined); imported when the
            table is first listed or a name is not found among the others.
    """

    def __init__(self, kind: str, entry_points: dict[str, str] | None = None, modules: tuple[str, ...] = ()):
        self.kind = kind
        self._entry_points: dict[str, str] = dict(entry_points or {})
        self._modules = modules
        self._classes: dict[str, type] = {}
        self._discovered = False

    def register(self, name: str, entry_point: str | None = None) -> Callable[[C], C]:
        """Declare type ``name``: with ``entry_point`` (``"module:Class"``, imported on first use),
        or as a class decorator (``@INTERVENTIONS.register("my_rule")``).
        """
        if entry_point is not None:
            known = self._entry_points.get(name)
            if known is not None and known != entry_point:
                raise ValueError(f"{self.kind} type {name!r} registered twice")
            self._entry_points[name] = entry_point

        def decorator(cls: C) -> C:
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.kind} type {name!r} registered twice")
            declared = self._entry_points.get(name)
            if declared is not None and declared != f"{cls.__module__}:{cls.__qualname__}":
                raise ValueError(f"{self.kind} type {name!r} registered twice")
            self._classes[name] = cls
            return cls

        return decorator

    def unregister(self, name: str) -> None:
        """Forget type ``name`` (a plugin's, or one a test registered for a while); a built-in
        type's declaration is forgotten too. Unknown names are ignored.
        """
        self._classes.pop(name, None)
        self._entry_points.pop(name, None)

    def _discover(self) -> None:
        """Import the declared modules and read installed packages' entry points (once)."""
        if self._discovered:
            return
        self._discovered = True
        for module in self._modules:
            importlib.import_module(module)
        for entry in importlib.metadata.entry_points(group=f"simlab.{self.kind}"):
            self._entry_points.setdefault(entry.name, entry.value)

    def get(self, name: str) -> type:
        """The class of type ``name`` (its module imported now if it was not yet)."""
        if name not in self._classes and name not in self._entry_points:
            self._discover()
        if name in self._classes:
            return self._classes[name]
        if name in self._entry_points:
            cls = load_entry_point(self._entry_points[name])
            self._classes[name] = cls
            return cls
        known = ", ".join(self.names())
        raise KeyError(f"unknown {self.kind} type {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        self._discover()
        return sorted({*self._classes, *self._entry_points})

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name not in self._classes and name not in self._entry_points:
            self._discover()
        return name in self._classes or name in self._entry_points

    def settings_model(self, name: str) -> type[pydantic.BaseModel]:
        """The pydantic model of type ``name``'s settings (its class's ``Settings``)."""
        return getattr(self.get(name), "Settings", EmptySettings)

    def build(self, block: Component | Mapping[str, Any]) -> T:
        """Build a component from its block.

        Args:
            block: a loaded scenario's block (a :class:`~simlab.config.schema.Component`, whose
                settings are built on as they are, already validated), or, for tests and
                scripts, a plain ``{type: name, **settings}`` mapping, validated here.

        Returns:
            An instance of the registered class, ``cls(settings)``.
        """
        if isinstance(block, Mapping):
            settings = dict(block)
            name = settings.pop("type")
            return self.get(name)(self.settings_model(name)(**settings))
        return self.get(block.type)(block.settings)


POPULATIONS: Registry[Population] = Registry(
    "population",
    {
        "beta": "simlab.society.population:BetaPopulation",
        "bimodal": "simlab.society.population:BimodalPopulation",
        "file": "simlab.society.population:FilePopulation",
        "normal": "simlab.society.population:NormalPopulation",
        "uniform": "simlab.society.population:UniformPopulation",
    },
)
NETWORKS: Registry[Network] = Registry(
    "network",
    {
        "barabasi_albert": "simlab.society.network.generators:BarabasiAlbert",
        "edge_list": "simlab.society.network.files:EdgeList",
        "erdos_renyi": "simlab.society.network.generators:ErdosRenyi",
        "karate_club": "simlab.society.network.generators:KarateClub",
        "none": "simlab.society.network.generators:EmptyNetwork",
        "sbm": "simlab.society.network.generators:StochasticBlockModel",
        "watts_strogatz": "simlab.society.network.generators:WattsStrogatz",
    },
)
CATALOGS: Registry[CatalogModel] = Registry("catalog", {"default": "simlab.society.catalog:CreatorCatalog"})
BEHAVIORS: Registry[Behavior] = Registry("behavior", {"default": "simlab.society.behavior:EngagementModel"})
DYNAMICS: Registry[Dynamics] = Registry(
    "dynamics",
    {
        "algorithmic_bias": "simlab.society.dynamics.bounded_confidence:AlgorithmicBias",
        "assimilation": "simlab.society.dynamics.assimilation:Assimilation",
        "biased_assimilation": "simlab.society.dynamics.biased_assimilation:BiasedAssimilation",
        "bounded_confidence": "simlab.society.dynamics.bounded_confidence:BoundedConfidence",
        "degroot": "simlab.society.dynamics.linear:DeGroot",
        "friedkin_johnsen": "simlab.society.dynamics.linear:FriedkinJohnsen",
        "none": "simlab.society.dynamics.assimilation:NoDynamics",
    },
)
RECOMMENDERS: Registry[Recommender] = Registry(
    "recommender",
    {
        "als": "simlab.recommenders.als:ALSRecommender",
        "chronological": "simlab.recommenders.baselines:ChronologicalRecommender",
        "dlrm": "simlab.recommenders.dlrm.recommender:DLRMRecommender",
        "oracle": "simlab.recommenders.baselines:OracleRecommender",
        "popularity": "simlab.recommenders.baselines:PopularityRecommender",
        "random": "simlab.recommenders.baselines:RandomRecommender",
    },
)
POLICIES: Registry[Policy] = Registry(
    "policy",
    {
        "epsilon_greedy": "simlab.platform.policies:EpsilonGreedy",
        "softmax": "simlab.platform.policies:Softmax",
        "top_k": "simlab.platform.policies:TopK",
    },
)
INTERVENTIONS: Registry[Intervention] = Registry(
    "intervention",
    {
        "antidote": "simlab.interventions.antidote:Antidote",
        "bridging": "simlab.interventions.bridging:Bridging",
        "calibrated": "simlab.interventions.calibrated:Calibrated",
        "chronological_mix": "simlab.interventions.injection:ChronologicalMix",
        "diversity_cap": "simlab.interventions.diversity_cap:DiversityCap",
        "extremeness_penalty": "simlab.interventions.extremeness:ExtremenessPenalty",
        "history_reset": "simlab.interventions.history_reset:HistoryReset",
        "labelled_extremeness": "simlab.interventions.labelled:LabelledExtremeness",
        "mmr": "simlab.interventions.mmr:MMR",
        "random_injection": "simlab.interventions.injection:RandomInjection",
    },
)
PEOPLE: Registry[PeopleRecommender] = Registry(
    "people",
    {
        "adamic_adar": "simlab.platform.people:AdamicAdar",
        "common_neighbours": "simlab.platform.people:CommonNeighbours",
        "engagement_similarity": "simlab.platform.people:EngagementSimilarity",
        "none": "simlab.platform.people:NoPeopleRecommender",
        "random": "simlab.platform.people:RandomPeople",
    },
)
# metric columns are many small functions: their modules register them where they are defined
METRICS: Registry[Metric] = Registry(
    "metric", modules=("simlab.metrics.columns", "simlab.metrics.experiments", "simlab.metrics.opinion_formation")
)

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
        PEOPLE,
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
    """Import each plugin module (which registers its own types), with the folders in ``search``
    added to ``sys.path`` (and kept there, so that worker processes started from here find the
    same modules). Built-in types need no loading: they are declared above. The types each
    module's import added are remembered (:func:`plugin_components`).

    Imports are cached by Python, so calling this again (in every worker) is cheap. A plugin is
    code and runs with the user's rights; one that tries to end the process while it is imported
    (``sys.exit``, ``os._exit``) is an error like any other failed import, not a silent exit.
    """
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
    plugin's own ``except Exception`` does not swallow it).
    """

    def __init__(self, code: object):
        super().__init__(code)
        self.code = code


@contextlib.contextmanager
def _exits_refused() -> Iterator[None]:
    """During the block, ``os._exit`` raises _ExitDuringImport instead of ending the process at once
    (it skips every handler, so it could not be reported otherwise).
    """

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
    whose class is defined in it or a submodule (for a module imported before simlab loaded it).
    """
    found = []
    for kind, reg in ALL.items():
        for name in reg.names():
            defined = getattr(reg.get(name), "__module__", "")
            if _ORIGIN.get((kind, name)) == module or defined == module or defined.startswith(module + "."):
                found.append((kind, name))
    return found
