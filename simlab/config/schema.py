"""The scenario schema: top-level keys, loop settings, and the component kinds (DESIGN.md §3)."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any, Literal

import pydantic

from simlab import registry

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
    "policy": "top_k",
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


class RecommenderCommon(_Strict):
    """Settings every recommender shares (the loop uses them); the rest go to the type."""

    type: str
    retrain_every: int = pydantic.Field(1, ge=1)
    slate_size: int = pydantic.Field(10, ge=1, le=1000)
    history_length: int = pydantic.Field(20, ge=1, le=1000)
    log_capacity: int = pydantic.Field(200_000, ge=1, le=10_000_000)
    candidates: CandidateSettings = CandidateSettings()
    policy: dict[str, Any] = pydantic.Field(
        default_factory=lambda: {"type": "top_k"},
        description="the ranking policy {type: name, ...settings} (registry `policy`)",
    )


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
    steps: int = pydantic.Field(50, ge=1, le=10_000_000)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["float32", "float64"] = "float32"
    plugins: list[str] = []
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

    @property
    def source(self) -> str | None:
        """The file (or ``<dict>``) the scenario was loaded from."""
        return self._source

    def resolved_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def tasks(self) -> list[tuple[str, Scenario]]:
        """(label, scenario) for each variant x sweep point; labels are metrics.csv `variant`."""
        from simlab.config.overrides import apply_overrides
        from simlab.config.validation import _validate

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


