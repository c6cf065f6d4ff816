"""Replaying a retrain on trial: what antidote data needs to judge candidate rows on the training
the loop actually runs (issue 25).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any, Protocol

import torch

from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog


class _Trainable(Protocol):
    generator: torch.Generator

    def train(self, log: ImpressionLog, step: int, extra: Rows | None = None) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@contextlib.contextmanager
def trial_retrain(
    recommender: _Trainable, log: ImpressionLog, step: int, extra: Rows | None, horizon: int = 1
) -> Iterator[None]:
    """Within the context, ``recommender`` is as after ``horizon`` retrains ``train(log, step, extra)``.

    The first retrain is exactly the one the loop would run now: the same rows and the same
    random state (the recommender's generator is saved and restored, so the trial draws the
    same shuffles). On exit the parameters, the optimiser state, the counters and the generator
    are restored, so the trial leaves no trace.

    Args:
        recommender: a recommender with ``train``, ``state_dict``/``load_state_dict`` and its
            ``generator``.
        log: the impression log.
        step: the retrain's step.
        extra: the rows added to training (None: none).
        horizon: how many retrains in a row (later ones on the same log: the loop's next
            retrains, before new data arrives).

    Yields:
        Nothing; read the retrained recommender inside the context.
    """
    saved = copy.deepcopy(recommender.state_dict())
    rng = recommender.generator.get_state()
    try:
        for _ in range(horizon):
            recommender.train(log, step, extra)
        yield
    finally:
        recommender.load_state_dict(saved)
        recommender.generator.set_state(rng)
