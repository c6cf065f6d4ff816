"""Importing this module registers every built-in component type."""

from simlab import (  # noqa: F401
    behavior,
    catalog,
    dynamics,
    metrics,
    network,
    population,
    recommenders,
)
