"""``simlab antidote RATINGS_FILE``: optimise antidote data for a ratings file and write the outputs.

Writes to ``out``: ``antidote_ratings.csv`` (user,item,rating), ``before_after.csv`` (measure,
before, after, change) and, unless disabled, ``budget_curve.csv`` and ``budget_curve.png``
(R_pol reduction against the budget, 0.5% to 5%, for the gradient method, the heuristic and
random synthetic users).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tqdm import tqdm

from simlab.antidote.io import read_ratings, write_antidote
from simlab.antidote.optimize import n_antidote, optimize

CURVE_BUDGETS = (0.005, 0.01, 0.02, 0.03, 0.05)


def run_antidote(
    path: str,
    out: str,
    *,
    budget: float | int = 0.01,
    objective: str = "polarization",
    method: str = "gradient",
    gradient: str = "approx",
    rank: int = 4,
    reg: float = 0.1,
    seed: int = 0,
    top_users: int | None = None,
    top_items: int | None = None,
    curve: bool = True,
) -> pd.DataFrame:
    """Read, optimise, write; returns the before/after table."""
    data = read_ratings(path, top_users, top_items)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    kw = dict(objective=objective, rank=rank, reg=reg, seed=seed, gradient=gradient)
    result = optimize(data.ratings, budget=budget, method=method, **kw)  # type: ignore[arg-type]
    write_antidote(folder / "antidote_ratings.csv", result.antidote, data.items)
    table = pd.DataFrame(
        [(k, result.before[k], result.after[k], result.after[k] / result.before[k] - 1) for k in result.before],
        columns=["measure", "before", "after", "change"],
    )
    table.to_csv(folder / "before_after.csv", index=False)
    if curve:
        rows = []
        n = data.ratings.shape[0]
        points = [(b, m) for b in CURVE_BUDGETS for m in ("gradient", "heuristic", "random")]
        for b, m in tqdm(points, desc="budget curve", unit="optimisation", disable=None):  # a bar on a terminal
            r = result if (m == method and b == budget) else optimize(data.ratings, budget=b, method=m, **kw)  # type: ignore[arg-type]
            rows.append({"budget": b, "users": n_antidote(b, n), "method": m, "reduction": r.reduction})
        frame = pd.DataFrame(rows)
        frame.to_csv(folder / "budget_curve.csv", index=False)
        from simlab.outputs.antidote_figures import budget_curve

        budget_curve(frame, folder / "budget_curve.png", objective)
    return table
