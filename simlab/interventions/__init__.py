"""Interventions (registry ``intervention``): mitigations as composable wrappers of the feed.

See :mod:`simlab.interventions.base` for the seam and docs/plugins.md for its contract. Importing
this package registers every built-in intervention type.

Public API for writing one (docs/plugins.md): :class:`Intervention`, :class:`InterventionContext`
(what setup receives: the :class:`~simlab.core.view.PlatformView`, the recommender, the slate
size, a random stream), :func:`concat_rows`; the re-ranking helpers the shipped mitigations use,
:class:`GreedySlate` with :class:`PoolSettings` (a greedy slate over the inner feed's best
``pool`` candidates), :class:`SlotFill` with :class:`ShareSettings` (slots given to other
candidates), :func:`minmax_rows` and :func:`row_range`; and, from :mod:`simlab.platform.slates`,
:func:`mask_repeats` and :func:`columns_to_items`.
"""

from simlab.core.view import PlatformView
from simlab.interventions import (  # noqa: F401  (mitigations, issue 11)
    bridging,
    calibrated,
    diversity_cap,
    extremeness,
    injection,
    labelled,
    mmr,
)
from simlab.interventions.antidote import Antidote  # noqa: F401  (registers antidote, issue 12)
from simlab.interventions.base import Intervention, InterventionContext, Truth, concat_rows
from simlab.interventions.common import (
    GreedySlate,
    PoolSettings,
    ShareSettings,
    SlotFill,
    StrictSettings,
    minmax_rows,
    pool_setting,
    row_range,
)
from simlab.interventions.history_reset import HistoryReset  # noqa: F401  (registers history_reset)
from simlab.platform.slates import columns_to_items, mask_repeats

__all__ = [
    "GreedySlate",
    "Intervention",
    "InterventionContext",
    "PlatformView",
    "PoolSettings",
    "ShareSettings",
    "SlotFill",
    "StrictSettings",
    "Truth",
    "columns_to_items",
    "concat_rows",
    "mask_repeats",
    "minmax_rows",
    "pool_setting",
    "row_range",
]
