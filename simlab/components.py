"""Importing this module registers every built-in component type (one import per module that
registers something; see :func:`simlab.registry.load_components`)."""

from simlab import interventions, metrics, recommenders  # noqa: F401
from simlab.platform import policies  # noqa: F401
from simlab.society import behavior, catalog, dynamics, network, population  # noqa: F401
