"""Hand-made run folders for the output tests: metrics.csv and scenario.yaml written directly (no
simulation), with known values, so that figures and tables can be checked against them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# variant -> recommender type: random predicts one number for everyone (no prediction metrics)
FEEDS = {"random": "random", "popularity": "popularity", "oracle": "oracle"}
SHARES = ["extreme_user_share", "extreme_exposure_share", "coverage", "ctr"]
OTHERS = ["opinion_variance", "extremity", "polarization_er", "unfairness_group", "rpol", "personalisation"]
COHORT = ["exposure_extremeness_logged_in", "exposure_extremeness_logged_out"]


def value(variant: str, replicate: int, step: int, name: str) -> float:
    """Shares of the random feed near 0 (their t-bands would reach below 0), a cohort that does
    not exist (logged_out empty, logged_in the whole population), everything else in range."""
    rng = np.random.default_rng([replicate, step, len(name), len(variant)])
    if name == "exposure_extremeness_logged_out":
        return float("nan")
    if name in SHARES:
        base = {"random": 0.01, "popularity": 0.3, "oracle": 0.6}[variant]
        return float(max(0.0, base + (0.03 if replicate == 1 else 0.0) * (variant == "random") + rng.normal(0, 0.01)))
    if name == "rpol":
        return 0.0 if variant == "random" else 0.05 + 0.01 * replicate
    if name == "personalisation":
        return float("nan") if variant == "random" else 0.4 + 0.05 * replicate
    if name == "unfairness_group":
        return float(abs(rng.normal(1e-5, 1e-5)))
    return float(0.2 + 0.1 * list(FEEDS).index(variant) + 0.02 * replicate + 0.001 * step)


def write_run(
    folder: Path,
    replicates: int = 2,
    steps: int = 5,
    names: list[str] | None = None,
    values: Callable[[str, int, int, str], float] = value,
    feeds: dict[str, str] | None = None,
) -> Path:
    """A run folder with metrics.csv (variants x replicates x steps, one column per metric) and
    the scenario.yaml naming each variant's recommender; returns the folder."""
    feeds = feeds or FEEDS
    names = names or [*SHARES, *OTHERS, *COHORT]
    rows = [
        {"variant": v, "replicate": r, "step": s, **{n: values(v, r, s, n) for n in names}}
        for v in feeds
        for r in range(replicates)
        for s in range(steps)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    first = next(iter(feeds.values()))
    scenario = {
        "name": "handmade",
        "recommender": {"type": first, "slate_size": 5},
        "variants": {v: {"recommender": {"type": t}} for v, t in feeds.items()},
        "sweep": {},
    }
    (folder / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return folder
