"""Per-step metric recording: metric components read a StepContext and return a scalar tensor.

Metrics are computed on the run's device; the recorder stacks every selected scalar and
moves them to the host once per recorded step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pydantic
import torch
from torch import Tensor

from simlab.core.protocols import PlatformView
from simlab.core.rng import Streams
from simlab.core.state import Catalog, Engagements, Graph, Users
from simlab.registry import METRICS, EmptySettings


@dataclass
class StepContext:
    """Everything a metric may read after one step.

    impressions: this step's impressions (I rows); slates (A, k) item ids shown to the active
    users ``active`` (A,), -1 where a slot was empty; predictions (I,) the recommender's
    predicted engagement probability for the impressions, made before it trained on them;
    shown_scores (I,) the recommender's own ranking scores of the impressions (before any
    intervention adjusted them); candidates (A, C) the active users' candidate item ids.
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
    n_items: int = 0  # catalog size when the step was recorded (the catalog grows afterwards)
    shown_scores: Tensor | None = None
    candidates: Tensor | None = None
    true_probability: Callable[[Tensor, Tensor], Tensor] | None = None  # (B,), (B,) -> true p at the top position
    interventions: tuple[Any, ...] = ()  # the run's interventions (a metric of one reads what it reports)
    rewired_edges: int = 0  # links the people block added or removed so far
    cache: dict[str, Tensor] = field(default_factory=dict)

    def cached(self, key: str, compute: Any) -> Any:
        """Share one computation between metrics in the same step (e.g. Musco P and D)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


def metric(name: str, settings: type[pydantic.BaseModel] = EmptySettings, opt_in: bool = False):
    """Register a stateless function ``f(ctx, settings) -> Tensor`` as metric ``name``.

    An ``opt_in`` metric is recorded only when a scenario names it in ``metrics.include``.

    Metrics that keep state across steps (a probe set, step-0 values) are classes with
    ``setup(ctx)``, ``compute(ctx)``, ``state_dict()`` and ``load_state_dict()`` registered
    directly in ``METRICS``.
    """

    def decorator(fn):
        cls = type(
            f"Metric_{name}",
            (),
            {
                "Settings": settings,
                "__init__": lambda self, s: setattr(self, "settings", s),
                "compute": lambda self, ctx: fn(ctx, self.settings),
                "__doc__": fn.__doc__,
                "opt_in": opt_in,
            },
        )
        METRICS.register(name)(cls)
        return fn

    return decorator


class Recorder:
    """Computes the scenario's selected metrics each recorded step."""

    def __init__(self, names: list[str], params: dict[str, dict[str, Any]]):
        self.names = names
        self.metrics = [METRICS.build({"type": n, **params.get(n, {})}) for n in names]

    @classmethod
    def from_settings(cls, settings: Any) -> Recorder:
        # "all" leaves out the opt-in columns (``opt_in = True``: a single experiment's, recorded
        # only where a scenario names them, so that no other scenario's table changes)
        everything = [n for n in METRICS.names() if not getattr(METRICS.get(n), "opt_in", False)]
        names = everything if settings.include == "all" else list(settings.include)
        names = [n for n in names if n not in set(settings.exclude)]
        return cls(names, settings.params)

    def setup(self, ctx: StepContext) -> None:
        for m in self.metrics:
            if hasattr(m, "setup"):
                m.setup(ctx)

    def record(self, ctx: StepContext) -> dict[str, float]:
        values = [m.compute(ctx) for m in self.metrics]
        if ctx.users.opinion.device.type == "cpu":
            # a Python float each, read directly (the same numbers as through float64: every
            # tensor dtype converts exactly); on a GPU one stacked copy instead of a sync each
            return {name: float(value) for name, value in zip(self.names, values)}
        scalars = [
            value.double().reshape(()) if isinstance(value, Tensor) else torch.tensor(float(value), dtype=torch.float64)
            for value in values
        ]
        stacked = torch.stack([v.to(ctx.users.opinion.device) for v in scalars]) if scalars else torch.zeros(0)
        return dict(zip(self.names, stacked.tolist()))

    def state_dict(self) -> dict[str, Any]:
        return {n: m.state_dict() for n, m in zip(self.names, self.metrics) if hasattr(m, "state_dict")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for n, m in zip(self.names, self.metrics):
            if n in state:  # only the stateful ones saved anything (see state_dict)
                cast(Any, m).load_state_dict(state[n])
