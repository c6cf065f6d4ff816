"""Interventions (registry ``intervention``): mitigations as composable wrappers of the feed.

See :mod:`simlab.interventions.base` for the seam. Importing this package registers every
built-in intervention type.
"""

from simlab.interventions.base import Intervention, InterventionContext, Truth, concat_rows

__all__ = ["Intervention", "InterventionContext", "Truth", "concat_rows"]
