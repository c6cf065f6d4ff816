"""Interventions (registry ``intervention``): mitigations as composable wrappers of the feed.

See :mod:`simlab.interventions.base` for the seam. Importing this package registers every
built-in intervention type.
"""

from simlab.interventions import bridging, calibrated, diversity_cap, extremeness, injection, mmr  # noqa: F401  (mitigations, issue 11)
from simlab.interventions.antidote import Antidote  # noqa: F401  (registers antidote, issue 12)
from simlab.interventions.base import Intervention, InterventionContext, Truth, concat_rows
from simlab.interventions.history_reset import HistoryReset  # noqa: F401  (registers history_reset)

__all__ = ["Intervention", "InterventionContext", "Truth", "concat_rows"]
