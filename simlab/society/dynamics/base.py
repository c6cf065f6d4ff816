"""Shared pieces of the opinion-dynamics models: settings base, engagement sums, random matching.

Shapes: N users, K opinion axes, E engagements (or edges, where stated), P candidate pairs.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from simlab.core.state import Catalog, Graph

__all__ = [
    "DynamicsBase",
    "DynamicsSettings",
    "ExposureSettings",
    "engaged_stances",
    "random_matching",
    "scatter_sum",
    "uniform",
    "weighted_neighbour_sum",
]


class DynamicsSettings(BaseModel):
    """Settings every dynamics model shares (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid")


class ExposureSettings(DynamicsSettings):
    """Settings of models that treat engaged items as extra influence sources."""

    item_weight: float = Field(
        1.0,
        ge=0.0,
        description="weight of each engaged item relative to the user's whole (row-normalised) neighbourhood",
    )


class DynamicsBase:
    """A dynamics component: ``cls(settings)``; subclasses define ``update`` (see
    :class:`simlab.core.protocols.Dynamics`), returning the next opinions (N, K).
    """

    Settings: type[DynamicsSettings] = DynamicsSettings
    # a model that also reads this step's impressions (engaged or not) declares it: the loop
    # then passes update(..., exposed_user=(S,), exposed_item=(S,)); the others keep the
    # six-argument update of the protocol
    reads_exposure: ClassVar[bool] = False

    def __init__(self, settings: DynamicsSettings | None = None):
        self.settings = settings if settings is not None else self.Settings()


def engaged_stances(catalog: Catalog | None, engaged_item: Tensor, like: Tensor) -> Tensor:
    """Stances y of the engaged items, (E, K) in ``like``'s dtype and device (E may be 0)."""
    if engaged_item.numel() == 0 or catalog is None:
        return like.new_zeros((0, like.shape[1]))
    return catalog.stance[engaged_item].to(like)


def scatter_sum(index: Tensor, values: Tensor, n: int) -> Tensor:
    """out[i] = sum of values[e] over e with index[e] == i; (E, ...) -> (N, ...)."""
    out = values.new_zeros((n, *values.shape[1:]))
    return out.index_add_(0, index, values)


def uniform(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    """U[0, 1) drawn on the generator's device, returned on ``like``'s device and dtype."""
    return torch.rand(shape, generator=generator, device=generator.device).to(like)


def random_matching(a: Tensor, b: Tensor, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """A random matching drawn from candidate pairs (a[p], b[p]), (P,) long each.

    Each pair gets a distinct random priority; a pair is kept when it has the
    smallest priority among all candidate pairs touching either endpoint (one round of Luby's
    algorithm), so no node is in two kept pairs and simultaneous symmetric updates are exactly
    those of a sequence of pairwise interactions. Self-pairs are ignored. Returns (a, b) kept.
    """
    proper = a != b
    a, b = a[proper], b[proper]
    p = a.numel()
    if p == 0:
        return a, b
    # distinct priorities in random order: a random high part, ties broken by the pair index
    # (cheaper than randperm on 1e7 pairs; ties in the high part have probability ~P^2 / 2^63)
    high = torch.randint(2**62 // p, (p,), generator=generator, device=generator.device).to(a.device)
    priority = high * p + torch.arange(p, device=a.device)
    best = torch.full((n,), torch.iinfo(torch.long).max, dtype=torch.long, device=a.device)
    best.scatter_reduce_(0, a, priority, reduce="amin")
    best.scatter_reduce_(0, b, priority, reduce="amin")
    keep = (best[a] == priority) & (best[b] == priority)
    return a[keep], b[keep]


def _adjacency_times(graph: Graph, x: Tensor) -> Tensor:
    """Row-normalised A @ x for x (N, K) of any float dtype (the adjacency is float32)."""
    a = graph.adjacency
    return torch.sparse.mm(a, x.to(a.dtype)).to(x.dtype)


def weighted_neighbour_sum(graph: Graph, x: Tensor) -> Tensor:
    """sum_j w_ij x_j with the raw weights, (N, K); 0 for isolated users."""
    return graph.degree.to(x)[:, None] * _adjacency_times(graph, x)
