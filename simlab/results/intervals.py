"""The project's one interval: means over replicates and paired differences, with 95% t-intervals.

**The interval.** Every interval simlab reports (summary.csv, the figures' bands, the report,
``simlab compare``) is :func:`interval`: the two-sided 95% Student t-interval of a mean over
replicates, mean +/- t(0.975, n - 1) * sd / sqrt(n) with the sample standard deviation (ddof 1),
**cut at the metric's declared range** (:data:`simlab.metrics.columns.BOUNDS`: shares and
probabilities in [0, 1], variances >= 0; a difference of two such values in [-(hi - lo), hi - lo]).
The mean lies in the range, so cutting the interval there never loses coverage: it only drops
values the mean cannot take (a t-band of three shares near 0 would otherwise reach below 0). A cut
interval says so (``clipped``; the tables mark it). Replicates are few (3 to 10), so the normal
approximation (1.96) would be too narrow: with 3 replicates t(0.975, 2) = 4.30, 2.2x wider. A
paired difference (variant minus its baseline) is taken per replicate first, since replicate r of
every variant shares its seed (the same society and item draws), and the interval is that of the
mean of those differences.

**Significance.** An interval "excludes 0" (``*`` in tables, a filled marker in figures) only
when it is defined and has positive width: fewer than two finite values, or values that do not
vary (a zero-width interval, such as a difference that is the same in every pair), never count,
whatever their mean. With fewer than :data:`FEW` pairs every table and figure carries the note
``n = 3: few replicates`` (:func:`few_note`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Student's t quantile, what scipy.stats.t.ppf computes (the same values); scipy.stats itself takes
# ~1.5 s to import, scipy.special a fraction of that
from scipy.special import stdtrit

from simlab.results.tables import select_point

LEVEL = 0.95  # the coverage of every interval
FEW = 5  # fewer pairs (replicates) than this: tables and figures say "few replicates"
# an interval narrower than this share of its magnitude has no width: values that do not vary,
# up to the float32 precision (~1e-7) of the state the metrics are computed from
ZERO_WIDTH = 1e-6
UNBOUNDED = (-math.inf, math.inf)


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` finite values with its 95% t-interval [low, high], cut at the range the
    values can take (``clipped``: the t-interval reached past it). low and high are NaN with
    fewer than two values.
    """

    mean: float
    low: float
    high: float
    n: int
    clipped: bool = False

    @property
    def defined(self) -> bool:
        """Both ends finite and the interval of positive width (:func:`has_width`)."""
        return has_width(self.low, self.high)

    @property
    def excludes_zero(self) -> bool:
        return excludes_zero(self.low, self.high)


def has_width(low: float, high: float) -> bool:
    """Both ends finite and high - low more than :data:`ZERO_WIDTH` of the larger |end|: a
    difference that is the same in every pair (up to rounding) has no width.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    return bool(high - low > ZERO_WIDTH * max(abs(low), abs(high)))


def excludes_zero(low: float, high: float) -> bool:
    """The significance rule: a finite interval of positive width (:func:`has_width`) that does
    not contain 0 (a zero-width or undefined interval never counts).
    """
    return has_width(low, high) and (low > 0 or high < 0)


def metric_bounds(name: str) -> tuple[float, float]:
    """The declared range of metric ``name`` (:data:`simlab.metrics.columns.BOUNDS`), else unbounded."""
    from simlab.metrics.columns import BOUNDS

    return BOUNDS.get(str(name), UNBOUNDED)


def difference_bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    """The range of a difference of two values in ``bounds``: [-(hi - lo), hi - lo]."""
    span = bounds[1] - bounds[0]
    return (-span, span)


def interval(values: np.ndarray, bounds: tuple[float, float] = UNBOUNDED) -> Interval:
    """Mean and 95% t-interval of ``values`` (n,), NaN entries dropped, cut at ``bounds`` (see
    the module docstring); the interval is NaN with fewer than two finite values.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(values.mean())
    if values.size < 2:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stdtrit(values.size - 1, 0.5 + LEVEL / 2) * values.std(ddof=1) / np.sqrt(values.size))
    low, high = mean - half, mean + half
    clipped = bool(low < bounds[0] or high > bounds[1])
    return Interval(mean, max(low, bounds[0]), min(high, bounds[1]), int(values.size), clipped)


def mean_ci(values: np.ndarray, bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float, float]:
    """(mean, low, high) of :func:`interval`: the 95% t-interval, cut at ``bounds``; the interval
    is NaN with fewer than two finite values. ``values`` is (n,), NaN entries dropped.
    """
    found = interval(values, bounds)
    return found.mean, found.low, found.high


def few_note(n: int) -> str:
    """``"n = 3: few replicates"`` when ``n`` (pairs or replicates) is below :data:`FEW`, else ``""``."""
    return f"n = {n}: few replicates" if 0 < n < FEW else ""


def step_intervals(values: pd.Series, bounds: tuple[float, float] = UNBOUNDED) -> pd.DataFrame:
    """:func:`interval` of each step's values at once. ``values`` indexed by step (one entry per
    replicate); returns a frame indexed by step with columns mean, low, high, clipped.
    """
    groups = values.astype(float).groupby(level=0)
    return _bands(groups.count(), groups.mean(), groups.std(ddof=1), bounds)


def step_intervals_of(frame: pd.DataFrame, bounds: dict[str, tuple[float, float]]) -> dict[str, pd.DataFrame]:
    """:func:`step_intervals` of several columns of ``frame`` (indexed by step) with one grouping:
    column name -> its frame, for the columns named in ``bounds`` (name -> the column's range).
    """
    groups = frame[list(bounds)].astype(float).groupby(level=0)
    n, mean, sd = groups.count(), groups.mean(), groups.std(ddof=1)
    return {name: _bands(n[name], mean[name], sd[name], cut) for name, cut in bounds.items()}


def _bands(n: pd.Series, mean: pd.Series, sd: pd.Series, bounds: tuple[float, float]) -> pd.DataFrame:
    counts = n.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stdtrit(np.where(counts >= 2, counts - 1, np.nan), 0.5 + LEVEL / 2)
        half = t * sd.to_numpy(dtype=float) / np.sqrt(counts)
    low, high = mean.to_numpy() - half, mean.to_numpy() + half
    clipped = (low < bounds[0]) | (high > bounds[1])
    out = pd.DataFrame(
        {"mean": mean, "low": np.clip(low, *bounds), "high": np.clip(high, *bounds), "clipped": clipped},
        index=mean.index,
    )
    return out.sort_index()


def paired(frame: pd.DataFrame, point: tuple[Any, ...], baseline: tuple[Any, ...], name: str) -> pd.Series:
    """Per replicate (index), ``name`` at ``point`` minus at ``baseline`` in rows of one step or of
    final values; replicates missing on either side dropped.
    """
    own, base = (select_point(frame, p).set_index("replicate")[name] for p in (point, baseline))
    return own.sub(base).dropna()


def curves(metrics: pd.DataFrame, name: str, point: tuple[Any, ...]) -> pd.DataFrame:
    """Per step: mean and 95% interval over replicates of ``name`` at ``point``, cut at the
    metric's range. (S, 4) frame indexed by step with columns mean, low, high, clipped.
    """
    frame = select_point(metrics, point)
    return step_intervals(frame.set_index("step")[name], metric_bounds(name))


def paired_curves(metrics: pd.DataFrame, name: str, point: tuple[Any, ...], baseline: tuple[Any, ...]) -> pd.DataFrame:
    """Per step: mean and 95% interval over replicates of the paired difference ``point`` minus
    ``baseline`` (replicate r minus replicate r at the same step), cut at the difference's range.
    """
    own = select_point(metrics, point).set_index(["step", "replicate"])[name]
    base = select_point(metrics, baseline).set_index(["step", "replicate"])[name]
    diff = own.sub(base).dropna()
    return step_intervals(diff.droplevel("replicate"), difference_bounds(metric_bounds(name)))
