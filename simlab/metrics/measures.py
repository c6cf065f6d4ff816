"""Measures of polarization, diversity, exposure and recommender quality as pure functions of
arrays: the opinion measures (:mod:`simlab.metrics.opinions`) and those of feeds
(:mod:`simlab.metrics.feeds`), importable together from here.

Every measure exists twice, with the same arguments and docstring:

* ``name_t(...)`` computes in torch on the device of its tensor arguments (numpy arrays and
  sequences are converted; mixed inputs follow the first tensor's device) and returns a 0-dim
  tensor (a :class:`PolarizationDisagreement` of 0-dim tensors for the Musco measure). It never
  copies data to the host, so a recorder can stack a step's metrics and synchronise once.
* ``name(...)`` is the public convenience form: the same value as a Python ``float``.

Floating-point inputs are promoted to float64 (float32 on Apple MPS, which lacks float64): the
statistics below are sums over 1e6-1e7 terms. Empty inputs and undefined cases give NaN, never an
exception. All functions are vectorised (sort, unique, bincount, searchsorted): O(n log n) at
worst, with no Python loop over users or items. On CUDA, the float-weighted bincounts (Esteban–Ray
bin means, group means, per-user topic entropy) use atomic adds, so those values may differ in the
last bits between identical runs; the other measures are bit-reproducible.

Metric-name map (docs/design.md §3): polarization_er = :func:`esteban_ray`, bimodality =
:func:`bimodality_coefficient`, polarization_p / disagreement = :func:`polarization_disagreement`,
extreme_user_share = :func:`extreme_share`, slate_diversity = :func:`intra_list_diversity`,
exposure_gini = :func:`gini`; the other names are the function names.
"""

from __future__ import annotations

from simlab.metrics.feeds import *  # noqa: F403
from simlab.metrics.feeds import __all__ as _feeds
from simlab.metrics.opinions import *  # noqa: F403
from simlab.metrics.opinions import __all__ as _opinions

__all__ = sorted([*_opinions, *_feeds])
