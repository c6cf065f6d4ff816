"""The intervention seam (docs/design.md §4.3): mitigations as composable wrappers of the feed.

In the spirit of Gymnasium's ``Wrapper``, an :class:`Intervention` wraps the
:class:`~simlab.core.protocols.Feed` below it and forwards every hook; a subclass overrides only the
hook it needs. The loop builds the stack once, in the order of the scenario's
``interventions`` list: the first entry wraps the platform's own :class:`PolicyFeed`, the next
wraps that, and the loop calls the outermost. Hooks (A active users, C candidates, k slate):

- ``adjust_scores(users (A,), candidates (A, C), scores (A, C)) -> (A, C)``;
- ``build_slates(users, candidates, scores, k) -> (A, k)`` column indices into ``candidates``
  (-1 = empty slot), so a greedy re-ranker (MMR, calibration) is one method;
- ``training_rows(log, step) -> Rows | None``: rows (:class:`~simlab.core.rows.Rows`, the
  log's columns) appended to what the recommender trains on at this retrain, for synthetic
  users (antidote data);
- ``observe(rows)``: this step's impressions as logged (user, item, position, label, step,
  dense, history), for interventions that learn.

An intervention sees what the platform sees (:class:`InterventionContext`: the
:class:`~simlab.core.view.PlatformView`, the recommender, the slate size, its own random
stream), never true opinions, stances or appetites. One that needs them for an upper-bound
experiment sets ``privileged = True``; it then also receives ``context.truth`` and the run's
manifest records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pydantic
import torch
from torch import Tensor

from simlab.core.protocols import Feed, Recommender
from simlab.core.rows import Rows
from simlab.core.state import Catalog, ImpressionLog, Users
from simlab.core.view import PlatformView
from simlab.registry import EmptySettings


@dataclass
class Truth:
    """The simulation's true state, handed only to interventions declared ``privileged``."""

    users: Users
    catalog: Catalog


@dataclass
class InterventionContext:
    """What an intervention is given at setup: the platform's view and model, never the truth
    (``truth`` is None unless the intervention is privileged); ``probe`` the replicate's probe
    set ((Q,) user and (P,) item ids, the one the ``rpol`` metric measures on).
    """

    view: PlatformView
    recommender: Recommender
    slate_size: int
    generator: torch.Generator
    device: torch.device
    truth: Truth | None = None
    probe: tuple[Tensor, Tensor] | None = None


class Intervention:
    """A feed wrapper that forwards every hook to the feed it wraps.

    Subclasses set ``Settings`` (a pydantic model; one strength setting suitable for a sweep),
    override :meth:`setup` to read the context and the hooks they change, and keep any state
    they need across steps in :meth:`state_dict` (tensors, numbers, strings, nested
    dicts/lists) so that a run resumes exactly.
    """

    Settings: ClassVar[type[pydantic.BaseModel]] = EmptySettings
    privileged: ClassVar[bool] = False

    def __init__(self, settings: pydantic.BaseModel):
        self.settings = settings
        self._inner: Feed | None = None

    @property
    def inner(self) -> Feed:
        """The feed this intervention wraps."""
        if self._inner is None:
            raise RuntimeError(f"{type(self).__name__} is not wrapped around a feed yet (call wrap)")
        return self._inner

    def wrap(self, inner: Feed, context: InterventionContext) -> None:
        """Wrap ``inner`` and set up from ``context`` (the loop calls this once)."""
        self._inner = inner
        self.setup(context)

    def setup(self, context: InterventionContext) -> None:
        """Read what the intervention needs from the context (default: nothing)."""

    # ------------------------------------------------------------------ the hooks (forwarded)

    def adjust_scores(self, users: Tensor, candidates: Tensor, scores: Tensor) -> Tensor:
        return self.inner.adjust_scores(users, candidates, scores)

    def build_slates(self, users: Tensor, candidates: Tensor, scores: Tensor, k: int) -> Tensor:
        return self.inner.build_slates(users, candidates, scores, k)

    def training_rows(self, log: ImpressionLog, step: int) -> Rows | None:
        return self.inner.training_rows(log, step)

    def observe(self, rows: dict[str, Tensor]) -> None:
        self.inner.observe(rows)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def concat_rows(first: Rows | None, second: Rows | None) -> Rows | None:
    """Training rows of two interventions, one after the other.

    Args:
        first: the inner feed's rows (None: none).
        second: this intervention's rows (None: none).

    Returns:
        Both, or whichever exists, or None.
    """
    return Rows.concat(first, second)
