"""`simlab antidote` end to end: the antidote ratings, the before/after table and the budget curve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.antidote.command import CURVE_BUDGETS, run_antidote
from simlab.antidote.synthetic import two_camps


def test_run_writes_ratings_table_and_budget_curve(tmp_path):
    ratings, _ = two_camps(seed=0)  # (60, 40), the suite's two-camp matrix
    users, items = np.nonzero(~np.isnan(ratings))
    path = tmp_path / "ratings.csv"
    pd.DataFrame({"user": users, "item": items, "rating": ratings[users, items]}).to_csv(path, index=False)

    table = run_antidote(str(path), str(tmp_path / "out"), budget=0.05, rank=2)

    out = tmp_path / "out"
    antidote = pd.read_csv(out / "antidote_ratings.csv")
    assert antidote["user"].nunique() == 3 and antidote["item"].nunique() == 40  # 5% of 60 users, every item
    assert antidote["rating"].between(ratings[users, items].min(), ratings[users, items].max()).all()
    change = table.set_index("measure")["change"]
    assert change["polarization"] < 0
    curve = pd.read_csv(out / "budget_curve.csv")
    assert len(curve) == 3 * len(CURVE_BUDGETS)
    top = curve[curve["budget"] == max(CURVE_BUDGETS)].set_index("method")["reduction"]
    assert top["gradient"] > top["random"]  # optimised ratings beat random synthetic users
    gradient = curve[curve["method"] == "gradient"].sort_values("budget")["reduction"]
    assert gradient.iloc[-1] > gradient.iloc[0]  # the reduction grows with the budget
    assert (out / "budget_curve.png").stat().st_size > 0
