"""`simlab antidote` end to end: the antidote ratings, the before/after table with units, the
budget curve over distinct budgets, progress on every optimisation, never worse than no antidote,
and --help with the defaults (issue 29)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.antidote import optimize
from simlab.antidote.command import CURVE_BUDGETS, distinct_budgets, run_antidote
from simlab.antidote.io import read_ratings
from simlab.antidote.synthetic import movielens_like, two_camps, write_movielens
from simlab.cli import main


@pytest.fixture
def camps_file(tmp_path):
    ratings, _ = two_camps(seed=0)  # (60, 40), the suite's two-camp matrix
    users, items = np.nonzero(~np.isnan(ratings))
    path = tmp_path / "ratings.csv"
    pd.DataFrame({"user": users, "item": items, "rating": ratings[users, items]}).to_csv(path, index=False)
    return path, ratings[users, items]


def test_run_writes_ratings_table_and_budget_curve(camps_file, tmp_path):
    path, known = camps_file
    outcome = run_antidote(str(path), str(tmp_path / "out"), budget=0.05, rank=2, curve=True)

    out = tmp_path / "out"
    antidote = pd.read_csv(out / "antidote_ratings.csv")
    assert outcome.helped and outcome.users == 3
    assert antidote["user"].nunique() == 3 and antidote["item"].nunique() == 40  # 5% of 60 users, every item
    assert antidote["rating"].between(known.min(), known.max()).all()
    table = outcome.table.set_index("measure")
    assert list(outcome.table.columns) == ["measure", "unit", "before", "after", "change_pct"]
    assert table.loc["polarization", "change_pct"] < 0 and "rating²" in table.loc["polarization", "unit"]
    assert table.loc["polarization", "change_pct"] == pytest.approx(
        100 * (table.loc["polarization", "after"] / table.loc["polarization", "before"] - 1)
    )
    curve = pd.read_csv(out / "budget_curve.csv")
    # on 60 users 0.5%, 1% and 2% are all one antidote user: the curve runs 1, 2 and 3 users once each
    assert sorted(set(curve["users"])) == [1, 2, 3] and len(curve) == 3 * 3
    top = curve[curve["users"] == 3].set_index("method")["reduction"]
    assert top["gradient"] > top["random"]  # optimised ratings beat random synthetic users
    gradient = curve[curve["method"] == "gradient"].sort_values("budget")["reduction"]
    assert gradient.iloc[-1] > gradient.iloc[0]  # the reduction grows with the budget
    assert (out / "budget_curve.png").stat().st_size > 0


def test_distinct_budgets_run_each_number_of_users_once():
    assert distinct_budgets(CURVE_BUDGETS, 60) == [(0.005, 1), (0.03, 2), (0.05, 3)]
    assert [k for _, k in distinct_budgets(CURVE_BUDGETS, 943)] == [5, 9, 19, 28, 47]


def test_an_antidote_that_does_not_help_is_not_written(camps_file, tmp_path, capsys):
    # random synthetic ratings raise R_pol on this matrix at rank 2 (README: -0.2% to -0.7%)
    path, _ = camps_file
    out = tmp_path / "out"
    code = main(["antidote", str(path), "--method", "random", "--budget", "0.05", "--rank", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert "warning: no antidote lowered polarization" in captured.err
    assert pd.read_csv(out / "antidote_ratings.csv").empty
    table = pd.read_csv(out / "before_after.csv").set_index("measure")
    assert (table["after"] == table["before"]).all() and (table["change_pct"] == 0).all()


def test_the_command_shows_a_progress_bar_and_labels_its_columns(camps_file, tmp_path, capsys):
    path, _ = camps_file
    code = main(
        ["antidote", str(path), "--budget", "2", "--rank", "2", "--max-iter", "4", "--out", str(tmp_path / "o")]
    )
    captured = capsys.readouterr()
    assert code == 0
    # a progress bar over the iterates (tqdm redraws its line with carriage returns)
    states = [line for line in captured.err.replace("\r", "\n").splitlines() if "iterate" in line]
    assert states and states[-1].startswith("antidote:") and "/4 [" in states[-1] and "objective" in states[-1]
    assert captured.err.splitlines()[0].startswith("antidote: 60 users x 40 items")
    header = captured.out.splitlines()[0].split()
    assert header[:4] == ["measure", "unit", "before", "after"] and "(%)" in captured.out.splitlines()[0]
    assert main(["antidote", str(path), "--budget", "2", "--quiet", "--out", str(tmp_path / "q")]) == 0
    assert capsys.readouterr().err == ""


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["antidote", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: 0.01)", "(default: polarization)", "(default: 4)", "(default: 1)", "(default: 10)"):
        assert default in text


def test_optimize_reports_progress_for_each_iterate():
    ratings, _ = two_camps(seed=0)
    events = []
    result = optimize(ratings, budget=2, rank=2, max_iter=3, restarts=2, progress=events.append)
    assert [(e["restart"], e["iteration"]) for e in events][:1] == [(1, 1)]
    assert {e["restarts"] for e in events} == {2} and all(e["iteration"] <= 3 for e in events)
    assert len(events) == sum(len(h) for h in result.histories) - sum(len(h) == 4 for h in result.histories)


def test_a_movielens_sized_file_is_generated_and_read(tmp_path):
    table = movielens_like()
    assert table.shape == (100_000, 4)
    assert len(np.unique(table[:, 0])) == 943 and table[:, 1].max() <= 1682
    assert np.bincount(table[:, 0])[1:].min() >= 20  # every user rates at least 20 items, as in ml-100k
    assert set(np.unique(table[:, 2])) <= {1, 2, 3, 4, 5}
    path = tmp_path / "u.data"
    write_movielens(str(path), table)
    data = read_ratings(path)
    assert data.format == "ml-100k" and data.ratings.shape[0] == 943 and np.isfinite(data.ratings).sum() == 100_000
