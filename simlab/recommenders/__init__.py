"""Recommenders behind the :class:`simlab.protocols.Recommender` protocol."""

from simlab.recommenders import baselines  # noqa: F401
