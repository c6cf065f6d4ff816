"""Metrics: pure functions of arrays (``simlab.metrics.measures``) and the per-step recorder."""

from simlab.metrics import recorder  # noqa: F401  (registers the metric components)
from simlab.metrics.recorder import Recorder, StepContext

__all__ = ["Recorder", "StepContext"]
