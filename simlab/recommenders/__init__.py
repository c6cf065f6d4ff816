"""Recommenders behind the :class:`simlab.protocols.Recommender` protocol."""

from simlab.recommenders import als, baselines, dlrm_recommender  # noqa: F401
