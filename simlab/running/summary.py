"""Summary statistics across replicates: final means, 95% CIs, paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

ID_COLUMNS = ["variant", "replicate", "step"]


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval; the interval is NaN with fewer than two values."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return mean, mean - half, mean + half


def summarize(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, metric): final-step mean over replicates with a 95% CI, and the
    paired difference to the first variant (replicates paired by index, which share seeds)."""
    metric_names = [c for c in metrics.columns if c not in ID_COLUMNS]
    last = metrics.loc[metrics.groupby(["variant", "replicate"])["step"].idxmax()]
    variants = list(dict.fromkeys(metrics["variant"]))
    first = last[last["variant"] == variants[0]].set_index("replicate")
    rows = []
    for variant in variants:
        final = last[last["variant"] == variant].set_index("replicate")
        for name in metric_names:
            mean, low, high = mean_ci(final[name].to_numpy(dtype=float))
            paired = final[name].sub(first[name]).dropna().to_numpy(dtype=float)
            diff, diff_low, diff_high = mean_ci(paired) if variant != variants[0] else (0.0, 0.0, 0.0)
            rows.append(
                {
                    "variant": variant,
                    "metric": name,
                    "final_mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "diff_vs_first": diff,
                    "diff_ci_low": diff_low,
                    "diff_ci_high": diff_high,
                    "replicates": int(final[name].notna().sum()),
                }
            )
    return pd.DataFrame(rows)
