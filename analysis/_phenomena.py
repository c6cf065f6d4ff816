"""Shared helpers of the phenomenon scripts (issue 15, part 2): reading a run folder, the value
of a swept key per row, and intervals over replicates."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.results.intervals import UNBOUNDED, difference_bounds, few_note, interval, mean_ci, metric_bounds
from simlab.running.files import read_metrics

CUT = "†"  # marks an interval cut at the range its quantity can take (as in the report)


def folders(doc: str) -> tuple[Path, Path]:
    """The command line the phenomenon scripts (and antidote.py) share, ``RUN_DIR [--out DIR]``
    (``doc``: the script's docstring, whose first line describes it): the run folder and the
    folder the figure and table go to (default the run folder; created if missing)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="where the figure and table go (default RUN_DIR)")
    args = parser.parse_args()
    out = args.out or args.run_dir
    out.mkdir(parents=True, exist_ok=True)
    return args.run_dir, out


def read(run_dir: Path) -> pd.DataFrame:
    """metrics.csv of a run folder (variant labels as text, empty cells NaN)."""
    return read_metrics(Path(run_dir) / "metrics.csv")


def sweep_values(metrics: pd.DataFrame, key: str) -> pd.Series:
    """The value of swept ``key`` on each row as a float: from its own column when metrics.csv
    has one, else parsed from a variant label such as ``recommender.policy.epsilon=0.1`` (the
    older form, where several keys are joined by commas or spaces)."""
    if key in metrics.columns:
        return metrics[key].astype(float)
    pattern = re.compile(re.escape(key) + r"=([-+0-9.eE]+)")

    def parse(label: str) -> float:
        found = pattern.search(str(label))
        if found is None:
            raise ValueError(f"no value of {key!r} in variant label {label!r}")
        return float(found.group(1))

    return metrics["variant"].map(parse)


def base_variant(metrics: pd.DataFrame) -> pd.Series:
    """The variant's name without any ``key=value`` sweep part (older labels carried both)."""
    return metrics["variant"].astype(str).str.replace(r"[ ,/]*[\w.]+=[-+0-9.eE]+", "", regex=True).str.strip(" ,/")


def tail_mean(metrics: pd.DataFrame, name: str, last: int, by: list[str]) -> pd.DataFrame:
    """Per group of ``by`` columns and replicate: the mean of ``name`` over the last ``last``
    recorded steps (per-step rates such as ctr are noisy; their mean over a window is not)."""
    cut = metrics["step"].max() - last
    recent = metrics[metrics["step"] > cut]
    return recent.groupby([*by, "replicate"], as_index=False)[name].mean()


def bounds_of(metric: str | None, difference: bool = False) -> tuple[float, float]:
    """The range a value of ``metric`` can take (its declared range,
    :data:`simlab.metrics.columns.BOUNDS`), or of a difference of two such values; unbounded
    without a metric."""
    if metric is None:
        return UNBOUNDED
    found = metric_bounds(metric)
    return difference_bounds(found) if difference else found


def ci(values: np.ndarray | pd.Series, bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float, float]:
    """Mean and 95% t-interval over replicates, cut at ``bounds`` (simlab's one interval rule)."""
    return mean_ci(np.asarray(values, dtype=float), bounds)


def fmt(
    values: np.ndarray | pd.Series,
    digits: int = 3,
    signed: bool = False,
    metric: str | None = None,
    bounds: tuple[float, float] | None = None,
) -> str:
    """``mean [low, high]`` over replicates: the 95% t-interval cut at the range of ``metric``
    (of a difference of two of its values when ``signed``) or at ``bounds``, with :data:`CUT`
    where it was cut."""
    found = interval(np.asarray(values, dtype=float), bounds if bounds is not None else bounds_of(metric, signed))
    spec = f"{'+' if signed else ''}.{digits}f"
    return f"{found.mean:{spec}} [{found.low:{spec}}, {found.high:{spec}}]" + (CUT if found.clipped else "")


def with_note(text: str, run_dir: Path) -> str:
    """``text`` (a Markdown table) followed by the few-replicates note when the run in
    ``run_dir`` has fewer than 5 replicates (every table with few pairs says so), and by what
    :data:`CUT` means when an interval of the table was cut."""
    replicates = int(read(run_dir)["replicate"].nunique())
    note = few_note(replicates)
    if note:
        text = f"{text}\n\n{note} (intervals are wide and their width uncertain)"
    if CUT in text:
        text += f"\n\n{CUT} the t-interval reached past the range the quantity can take and was cut there."
    return text
