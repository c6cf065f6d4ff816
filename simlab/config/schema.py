"""The scenario schema: top-level keys, loop settings, and the component kinds (docs/design.md §3)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, NamedTuple

import pydantic

from simlab import registry

# the component blocks of a scenario (top-level keys) -> the registry of their types
COMPONENTS: dict[str, registry.Registry[Any]] = {
    "population": registry.POPULATIONS,
    "network": registry.NETWORKS,
    "catalog": registry.CATALOGS,
    "behavior": registry.BEHAVIORS,
    "dynamics": registry.DYNAMICS,
    "recommender": registry.RECOMMENDERS,
    "people": registry.PEOPLE,
}
DEFAULT_TYPES = {
    "population": "uniform",
    "network": "erdos_renyi",
    "catalog": "default",
    "behavior": "default",
    "dynamics": "assimilation",
    "recommender": "popularity",
    "policy": "top_k",
    "people": "none",
}


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class CandidateSettings(_Strict):
    """Candidate generation: C candidates per active user mixed from several sources.

    The weights are relative shares of C; a source with weight 0 is skipped.
    """

    size: int = pydantic.Field(100, ge=1, le=100_000, description="C, candidates per active user")
    recent: float = pydantic.Field(0.2, ge=0, description="share from the newest items")
    popular: float = pydantic.Field(0.2, ge=0, description="share from the most engaged items")
    random: float = pydantic.Field(0.3, ge=0, description="share drawn uniformly from the catalog")
    social: float = pydantic.Field(0.15, ge=0, description="share from what the user's graph neighbours engaged with")
    history: float = pydantic.Field(0.15, ge=0, description="share of items similar to the user's engagement history")
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


class Component(pydantic.BaseModel):
    """One validated component block: ``{type: name, ...settings}`` in the YAML.

    ``settings`` is an instance of the registered class's own ``Settings`` model (the class
    that ``type`` names in the kind's registry), so a component is built from it as it is,
    without validating again. The loader (:mod:`simlab.config.validation`) makes these;
    serialised, a component is the flat YAML block again.

    Attributes:
        type: the registered type name.
        settings: the type's validated settings (an instance of ``Class.Settings``).
    """

    model_config = pydantic.ConfigDict(frozen=True)

    type: str
    settings: pydantic.BaseModel

    def to_dict(self) -> dict[str, Any]:
        """The block as written in a scenario YAML: ``{"type": name, **settings}`` (JSON values)."""
        return {"type": self.type, **self.settings.model_dump(mode="json")}

    @pydantic.model_serializer(mode="plain")
    def _as_block(self) -> dict[str, Any]:
        return self.to_dict()


# Settings added after scenarios were first run, by block: at their type's default they are left
# out of the hashed document (Scenario.hash_document), so a run folder written before them still
# resumes. A new setting with a default belongs here.
ADDED_SETTINGS: dict[str, tuple[str, ...]] = {
    "catalog": ("reliability", "reliability_appeal", "reliability_extremeness"),
    "population": ("reliability_value_spread",),
    "behavior": ("b_rel",),
    "recommender": ("user_id", "compile"),
}


def default_component(kind: str) -> Component:
    """The block a scenario gets when it leaves ``kind`` out: the default type, default settings."""
    name = DEFAULT_TYPES[kind]
    return Component(type=name, settings=registry.ALL[kind].settings_model(name)())


class LoopSettings(_Strict):
    """Loop settings every recommender shares (kept when a variant switches the recommender's type).

    In the YAML they sit in the ``recommender`` block beside its ``type``; the loaded scenario
    carries them apart, as ``Scenario.loop``.
    """

    retrain_every: int = pydantic.Field(1, ge=1, description="the recommender trains every this many steps")
    slate_size: int = pydantic.Field(10, ge=1, le=1000, description="k, items shown per active user and step")
    history_length: int = pydantic.Field(20, ge=1, le=1000, description="H, last engaged items kept per user")
    log_capacity: int = pydantic.Field(
        200_000, ge=1, le=10_000_000, description="impressions the replay log keeps (oldest dropped first)"
    )
    candidates: CandidateSettings = pydantic.Field(
        CandidateSettings(), description="candidate generation (see `recommender.candidates`)"
    )
    policy: Component = pydantic.Field(
        default_factory=lambda: default_component("policy"),
        description="the ranking policy {type: name, ...settings} (registry `policy`)",
    )


# the keys of the YAML's recommender block that are loop settings, not the recommender type's
LOOP_KEYS = tuple(LoopSettings.model_fields)


class MetricsSettings(_Strict):
    """Which metrics to record (default: all registered) and per-metric parameters."""

    include: list[str] | Literal["all"] = pydantic.Field("all", description="metric names to record, or all")
    exclude: list[str] = pydantic.Field([], description="metric names not to record")
    every: int = pydantic.Field(1, ge=1, description="record metrics every this many steps")
    params: dict[str, dict[str, Any]] = pydantic.Field(
        {}, description="per-metric settings, metric name -> {key: value} (see the `metric` types)"
    )


class OutputSettings(_Strict):
    """What a run writes to its run folder."""

    dir: str = pydantic.Field("runs", description="parent of the default run folder <dir>/<name>/<stamp>/")
    snapshot_every: int = pydantic.Field(
        10, ge=0, description="write snapshots/*.npz every this many steps (0 = no snapshots)"
    )
    checkpoint_every: int = pydantic.Field(
        0, ge=0, description="save a resumable checkpoint every this many steps (0 = no checkpoints)"
    )
    figures: bool = pydantic.Field(True, description="draw figures/*.png at the end")
    report: bool = pydantic.Field(True, description="write report.html at the end")
    parquet: bool = pydantic.Field(True, description="also write metrics.parquet")


class Scenario(_Strict):
    """A validated scenario with all defaults filled in."""

    name: str = pydantic.Field(
        "scenario",
        # starts with a letter, digit or _: never "." or "..", so runs/<name>/ stays inside runs/
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$",
        max_length=200,
        description="names the run folder runs/<name>/<stamp>/",
    )
    description: str = pydantic.Field("", description="free text, kept in the run's scenario.yaml and report")
    seed: int = pydantic.Field(0, ge=0, lt=2**63, description="replicate r runs with child seeds of (seed, r)")
    replicates: int = pydantic.Field(1, ge=1, le=100_000, description="independent replicates per variant")
    steps: int = pydantic.Field(50, ge=1, le=10_000_000, description="simulation steps per task")
    device: Literal["auto", "cpu", "cuda"] = pydantic.Field("auto", description="auto: cuda when available")
    precision: Literal["float32", "float64"] = pydantic.Field(
        "float32", description="dtype of every real-valued state array"
    )
    plugins: list[str] = pydantic.Field([], description="Python modules imported first; they register components")
    population: Component = pydantic.Field(
        default_factory=lambda: default_component("population"),
        description="{type: name, ...}: a `population` type",
    )
    network: Component = pydantic.Field(
        default_factory=lambda: default_component("network"), description="{type: name, ...}: a `network` type"
    )
    catalog: Component = pydantic.Field(
        default_factory=lambda: default_component("catalog"), description="{type: name, ...}: a `catalog` type"
    )
    behavior: Component = pydantic.Field(
        default_factory=lambda: default_component("behavior"), description="{type: name, ...}: a `behavior` type"
    )
    dynamics: Component = pydantic.Field(
        default_factory=lambda: default_component("dynamics"), description="{type: name, ...}: a `dynamics` type"
    )
    recommender: Component = pydantic.Field(
        default_factory=lambda: default_component("recommender"),
        description="{type: name, ...}: a `recommender` type plus the loop settings of `recommender`",
    )
    # written in the YAML's recommender block (see LoopSettings); not a YAML key of its own
    loop: LoopSettings = pydantic.Field(default_factory=LoopSettings, exclude=True)
    people: Component = pydantic.Field(
        default_factory=lambda: default_component("people"),
        description="{type: name, ...}: a `people` type (link recommender) and the users' rewiring settings",
    )
    interventions: list[Component] = pydantic.Field(
        [], description="`intervention` blocks; the first wraps the policy feed, the next wraps that"
    )
    metrics: MetricsSettings = pydantic.Field(MetricsSettings(), description="see `metrics`")
    output: OutputSettings = pydantic.Field(OutputSettings(), description="see `output`")
    variants: dict[str, dict[str, Any]] = pydantic.Field(
        {}, description="name -> overrides; variants run side by side with paired seeds"
    )
    sweep: dict[str, list[Any]] = pydantic.Field({}, description="dotted key -> values: a grid of every combination")
    sweep_baseline: dict[str, Any] | None = pydantic.Field(
        None,
        description="the sweep point paired differences are taken against (swept key -> value, same variant); "
        "absent: each sweep point against the first variant at that point",
    )

    # where the document came from, for error messages (not part of the YAML)
    _source: str | None = pydantic.PrivateAttr(None)
    # the task points (variants x sweep), each validated once by the loader
    _points: list[TaskPoint] | None = pydantic.PrivateAttr(None)

    @pydantic.model_serializer(mode="wrap")
    def _as_document(self, default: pydantic.SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Serialised as the YAML document: the loop settings back in the recommender block."""
        doc = default(self)
        recommender = doc["recommender"]
        loop = self.loop.model_dump(mode="json")
        doc["recommender"] = {"type": recommender["type"], **loop, **recommender}
        return doc

    def to_dict(self) -> dict[str, Any]:
        """The scenario as a YAML document (the format of scenario files, defaults filled in)."""
        return self.model_dump(mode="json")

    def blocks(self) -> dict[str, Component]:
        """The component blocks by kind, in the order of :data:`COMPONENTS` (interventions apart)."""
        return {
            "population": self.population,
            "network": self.network,
            "catalog": self.catalog,
            "behavior": self.behavior,
            "dynamics": self.dynamics,
            "recommender": self.recommender,
            "people": self.people,
        }

    def hash_document(self) -> dict[str, Any]:
        """The document the run hashes (:meth:`config_hash`, each task's hash): :meth:`to_dict`
        without a default ``people`` block (a fixed graph) and without the settings of
        :data:`ADDED_SETTINGS` where they hold their type's default, so that the hashes stay those
        of scenarios written before the block or the setting existed and their runs still resume.
        """
        doc = self.to_dict()
        if doc.get("people") == default_component("people").to_dict():
            del doc["people"]
        for kind, keys in ADDED_SETTINGS.items():
            block = doc.get(kind)
            if not isinstance(block, dict) or "type" not in block:
                continue
            fields = registry.ALL[kind].settings_model(block["type"]).model_fields
            for key in keys:
                if key in block and key in fields and block[key] == fields[key].default:
                    del block[key]
        return doc

    def config_hash(self) -> str:
        """A short hash of :meth:`hash_document` (what ``--resume`` compares)."""
        return hashlib.sha256(json.dumps(self.hash_document(), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def source(self) -> str | None:
        """The file (or ``<dict>``) the scenario was loaded from."""
        return self._source

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    @pydantic.field_validator("sweep_baseline")
    @classmethod
    def _baseline_is_a_sweep_point(cls, value: dict[str, Any] | None, info: pydantic.ValidationInfo) -> Any:
        sweep = info.data.get("sweep") or {}
        for key, chosen in (value or {}).items():
            if key not in sweep:
                raise ValueError(f"a swept key (one of {sorted(sweep)}), found {key!r}")
            if chosen not in sweep[key]:
                raise ValueError(f"one of the swept values of {key} {sweep[key]}, found {chosen!r}")
        return value

    def task_points(self) -> list[TaskPoint]:
        """One :class:`TaskPoint` per variant x sweep point, variants in scenario order and the
        sweep grid in row-major order of its keys (the order of every output).

        The points were expanded and validated when the scenario was loaded; a scenario without
        variants or sweep is its own single point.
        """
        if self._points is not None:
            return self._points
        if self.variants or self.sweep:
            raise ValueError("a scenario with variants or a sweep is expanded by load_scenario; load it with that")
        return [TaskPoint("base", "base", {}, self)]

    def tasks(self) -> list[tuple[str, Scenario]]:
        """(label, scenario) for each variant x sweep point (see :meth:`task_points`); labels
        name the tasks (task ids, manifest, snapshot files).
        """
        return [(p.label, p.scenario) for p in self.task_points()]


class TaskPoint(NamedTuple):
    """One variant at one sweep point: metrics.csv writes ``variant`` and one column per key
    of ``sweep`` (its values as written in the scenario).
    """

    label: str
    variant: str
    sweep: dict[str, Any]
    scenario: Scenario


# the top-level keys a scenario YAML accepts (``loop`` is the model's own: written in `recommender`)
YAML_KEYS = tuple(name for name in Scenario.model_fields if name != "loop")
