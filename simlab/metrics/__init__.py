"""Metrics: pure functions of arrays and the per-step recorder.

Every measure is importable from here as a pure function returning a float, e.g.
``simlab.metrics.esteban_ray(x, alpha=1.0)``, ``bimodality_coefficient(x)``, ``rpol(pred)``,
``gini(counts)``, ``polarization_disagreement(adjacency, z)``; the ``*_t`` forms return 0-dim
tensors on the input's device (see :mod:`simlab.metrics.measures`).
"""

from simlab.metrics import columns  # noqa: F401  (registers the metric columns)
from simlab.metrics.learning import *  # noqa: F403
from simlab.metrics.learning import __all__ as _learning
from simlab.metrics.measures import *  # noqa: F403
from simlab.metrics.measures import __all__ as _measures
from simlab.metrics.recorder import Recorder, StepContext

__all__ = ["Recorder", "StepContext", *_measures, *_learning]
