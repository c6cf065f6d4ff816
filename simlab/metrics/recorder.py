"""Per-step metric recording: metric components read a StepContext and return a scalar tensor.

Metrics are computed on the run's device; the recorder stacks every selected scalar and
moves them to the host once per recorded step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pydantic
import torch
from torch import Tensor

from simlab.protocols import PlatformView
from simlab.registry import METRICS, EmptySettings
from simlab.rng import Streams
from simlab.state import Catalog, Engagements, Graph, Users


@dataclass
class StepContext:
    """Everything a metric may read after one step.

    impressions: this step's impressions (I rows); slates (A, k) item ids shown to the active
    users ``active`` (A,), -1 where a slot was empty; predictions (I,) the recommender's
    predicted engagement probability for the impressions, made before it trained on them.
    """

    step: int
    users: Users
    catalog: Catalog
    graph: Graph
    view: PlatformView
    recommender: Any
    impressions: Engagements
    predictions: Tensor | None
    active: Tensor
    slates: Tensor
    streams: Streams
    cache: dict[str, Tensor] = field(default_factory=dict)

    def item_extremeness(self, items: Tensor) -> Tensor:
        return self.catalog.stance[items].abs().amax(dim=1)


class ThresholdSettings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    threshold: float = pydantic.Field(0.8, ge=0, le=1, description="|x| or e_j above which counts as extreme")


def metric(name: str, settings: type[pydantic.BaseModel] = EmptySettings):
    """Register a function ``f(ctx, settings) -> Tensor`` as metric ``name``."""

    def decorator(fn):
        cls = type(
            f"Metric_{name}",
            (),
            {
                "Settings": settings,
                "__init__": lambda self, s: setattr(self, "settings", s),
                "compute": lambda self, ctx: fn(ctx, self.settings),
                "__doc__": fn.__doc__,
            },
        )
        METRICS.register(name)(cls)
        return fn

    return decorator


def _nan(device: torch.device) -> Tensor:
    return torch.tensor(float("nan"), device=device)


def _mean_or_nan(values: Tensor) -> Tensor:
    return values.float().mean() if values.numel() else _nan(values.device)


@metric("opinion_mean")
def _opinion_mean(ctx: StepContext, s: Any) -> Tensor:
    """Mean opinion over users and axes."""
    return ctx.users.opinion.mean()


@metric("opinion_variance")
def _opinion_variance(ctx: StepContext, s: Any) -> Tensor:
    """Population variance of opinions (summed over axes)."""
    return ctx.users.opinion.var(dim=0, unbiased=False).sum()


@metric("extremity")
def _extremity(ctx: StepContext, s: Any) -> Tensor:
    """Mean |x_i| (largest absolute coordinate)."""
    return ctx.users.extremity.mean()


@metric("extreme_user_share", ThresholdSettings)
def _extreme_user_share(ctx: StepContext, s: ThresholdSettings) -> Tensor:
    """Share of users with |x_i| >= threshold."""
    return (ctx.users.extremity >= s.threshold).float().mean()


@metric("exposure_extremeness")
def _exposure_extremeness(ctx: StepContext, s: Any) -> Tensor:
    """Mean extremeness e_j of the items shown this step."""
    return _mean_or_nan(ctx.item_extremeness(ctx.impressions.item))


@metric("consumption_extremeness")
def _consumption_extremeness(ctx: StepContext, s: Any) -> Tensor:
    """Mean extremeness e_j of the items engaged with this step."""
    _, item = ctx.impressions.engaged()
    return _mean_or_nan(ctx.item_extremeness(item))


@metric("extreme_exposure_share", ThresholdSettings)
def _extreme_exposure_share(ctx: StepContext, s: ThresholdSettings) -> Tensor:
    """Share of this step's impressions whose item has e_j >= threshold."""
    return _mean_or_nan(ctx.item_extremeness(ctx.impressions.item) >= s.threshold)


@metric("coverage")
def _coverage(ctx: StepContext, s: Any) -> Tensor:
    """Share of the live catalog shown at least once this step."""
    shown = torch.zeros(ctx.catalog.size, dtype=torch.bool, device=ctx.impressions.item.device)
    shown[ctx.impressions.item] = True
    return shown.float().mean()


@metric("ctr")
def _ctr(ctx: StepContext, s: Any) -> Tensor:
    """Engagements per impression this step."""
    return _mean_or_nan(ctx.impressions.label)


@metric("engagement")
def _engagement(ctx: StepContext, s: Any) -> Tensor:
    """Engagements per user this step (all users, active or not)."""
    return ctx.impressions.label.sum() / ctx.users.n


class Recorder:
    """Computes the scenario's selected metrics each recorded step."""

    def __init__(self, names: list[str], params: dict[str, dict[str, Any]]):
        self.names = names
        self.metrics = [METRICS.build({"type": n, **params.get(n, {})}) for n in names]

    @classmethod
    def from_settings(cls, settings: Any) -> Recorder:
        names = METRICS.names() if settings.include == "all" else list(settings.include)
        names = [n for n in names if n not in set(settings.exclude)]
        return cls(names, settings.params)

    def setup(self, ctx: StepContext) -> None:
        for m in self.metrics:
            if hasattr(m, "setup"):
                m.setup(ctx)

    def record(self, ctx: StepContext) -> dict[str, float]:
        scalars = []
        for m in self.metrics:
            value = m.compute(ctx)
            scalars.append(
                value.double().reshape(())
                if isinstance(value, Tensor)
                else torch.tensor(float(value), dtype=torch.float64)
            )
        stacked = torch.stack([v.to(ctx.users.opinion.device) for v in scalars]) if scalars else torch.zeros(0)
        return dict(zip(self.names, stacked.tolist()))

    def state_dict(self) -> dict[str, Any]:
        return {n: m.state_dict() for n, m in zip(self.names, self.metrics) if hasattr(m, "state_dict")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for n, m in zip(self.names, self.metrics):
            if n in state:
                m.load_state_dict(state[n])
