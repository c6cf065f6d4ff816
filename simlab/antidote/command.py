"""``simlab antidote RATINGS_FILE``: optimise antidote data for a ratings file and write the outputs.

Writes to ``out``: ``antidote_ratings.csv`` (user,item,rating), ``before_after.csv`` (measure,
unit, before, after, change_pct) and, when asked (``curve``), ``budget_curve.csv`` and
``budget_curve.png`` (the objective's reduction against the budget, 0.5% to 5% of users, for the
gradient method, the heuristic and random synthetic users; budgets that come to the same number
of antidote users are run once).

The defaults are sized to finish in about a minute on a MovieLens-100k-sized file (943 users x
1,682 items, 100,000 ratings; ``benchmarks/bench_antidote.py --part cli`` times it; at a 5%
budget ``benchmarks/bench_antidote_speed.py`` checks issue 25's target, at most 2 minutes of one
core): one restart of at most 10 gradient iterations. Every optimisation shows a progress bar
over its iterates (tqdm on stderr; none with ``--quiet``).

**Never worse than none.** The result is judged as the paper judges it, by a converged refit
from the seeded start with and without the antidote users. When the antidote found does not
lower the objective there (the search's warm-started refits can end elsewhere than that cold
refit), no antidote is written: ``antidote_ratings.csv`` holds the header only, the table's
"after" equals "before", and :attr:`AntidoteOutcome.helped` is False (the command line warns and
exits 0).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from simlab.antidote.io import read_ratings, write_antidote
from simlab.antidote.optimize import n_antidote, optimize
from simlab.running.tasks import task_threads

CURVE_BUDGETS = (0.005, 0.01, 0.02, 0.03, 0.05)
CURVE_METHODS = ("gradient", "heuristic", "random")
# each measure of before_after.csv and its unit (predictions are in the file's rating units)
UNITS = {
    "polarization": "R_pol: mean variance of predicted ratings (rating²)",
    "individual_unfairness": "variance of per-user MSE (rating⁴)",
    "group_unfairness": "variance of per-group MSE (rating⁴)",
    "rmse": "root mean squared error (rating)",
}
Report = Callable[[str], None]


@dataclass
class AntidoteOutcome:
    """What :func:`run_antidote` returns: the before/after ``table`` (measure, unit, before,
    after, change_pct), whether the antidote ``helped`` (lowered the objective), the number of
    antidote ``users`` and the ``curve`` (None unless asked).
    """

    table: pd.DataFrame
    helped: bool
    users: int
    curve: pd.DataFrame | None = None


def distinct_budgets(budgets: tuple[float, ...], n: int) -> list[tuple[float, int]]:
    """(budget, antidote users) for each budget that gives a number of users no smaller budget
    gave (on 60 users, 0.5%, 1% and 2% are all one user: run once).
    """
    seen: dict[int, float] = {}
    for budget in sorted(budgets):
        seen.setdefault(n_antidote(budget, n), budget)
    return [(budget, users) for users, budget in seen.items()]


class _Bar:
    """A progress bar (tqdm, on stderr) over the iterates of one optimisation: one tick per
    iterate, the objective beside it. Silent without a ``report`` (``--quiet``).
    """

    def __init__(self, report: Report | None, label: str):
        self.report, self.label = report, label
        self.bar: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.report is None:
            return
        if self.bar is None:
            from tqdm import tqdm

            total = event["restarts"] * event["max_iter"]
            self.bar = tqdm(total=total, desc=self.label, unit="iterate", file=sys.stderr, dynamic_ncols=True)
        self.bar.update(1)
        self.bar.set_postfix_str(f"restart {event['restart']}/{event['restarts']}, objective {event['value']:.5g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _optimize(report: Report | None, label: str, ratings: Any, **kw: Any) -> Any:
    """:func:`optimize` with a progress bar."""
    bar = _Bar(report, label)
    try:
        return optimize(ratings, progress=bar, **kw)
    finally:
        bar.close()


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
    curve: bool = False,
    restarts: int = 1,
    max_iter: int = 10,
    report: Report | None = None,
) -> AntidoteOutcome:
    """Read, optimise, write (see the module docstring); ``report`` receives one line per event
    (each iterate of each optimisation, each point of the curve). torch runs with
    ``SIMLAB_TASK_THREADS`` threads (default 1), as simulation tasks do: the ALS solves are small,
    and more threads only spin against each other (on a busy 2-core machine, 10x the CPU time).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(task_threads())
    try:
        return _run(path, out, budget, objective, method, gradient, rank, reg, seed, top_users, top_items, curve,
                    restarts, max_iter, report)  # fmt: skip
    finally:
        torch.set_num_threads(before)


def _run(
    path: str,
    out: str,
    budget: float | int,
    objective: str,
    method: str,
    gradient: str,
    rank: int,
    reg: float,
    seed: int,
    top_users: int | None,
    top_items: int | None,
    curve: bool,
    restarts: int,
    max_iter: int,
    report: Report | None,
) -> AntidoteOutcome:
    say = report or (lambda line: None)
    data = read_ratings(path, top_users, top_items)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    n = data.ratings.shape[0]
    users = n_antidote(budget, n)
    kw: dict[str, Any] = dict(objective=objective, rank=rank, reg=reg, seed=seed, gradient=gradient)
    kw |= dict(restarts=restarts, max_iter=max_iter)
    say(
        f"antidote: {data.ratings.shape[0]} users x {data.ratings.shape[1]} items, "
        f"{int(np.isfinite(data.ratings).sum())} ratings; {method} for {users} antidote user(s), objective {objective}"
    )
    result = _optimize(report, "antidote", data.ratings, budget=budget, method=method, **kw)
    helped = result.after[objective] < result.before[objective]
    after = result.after if helped else result.before  # no antidote at all rather than a harmful one
    antidote = result.antidote if helped else result.antidote[:0]
    write_antidote(folder / "antidote_ratings.csv", antidote, data.items)
    table = pd.DataFrame(
        [
            (k, UNITS.get(k, ""), result.before[k], after[k], 100 * (after[k] / result.before[k] - 1))
            for k in result.before
        ],
        columns=["measure", "unit", "before", "after", "change_pct"],
    )
    table.to_csv(folder / "before_after.csv", index=False)
    frame = None
    if curve:
        rows = []
        points = [(b, k, m) for b, k in distinct_budgets(CURVE_BUDGETS, n) for m in CURVE_METHODS]
        for index, (b, k, m) in enumerate(points, 1):
            label = f"budget curve {index}/{len(points)} ({m}, {100 * b:g}% = {k} user(s))"
            say(label)
            same = m == method and k == users
            r = result if same else _optimize(report, label, data.ratings, budget=b, method=m, **kw)
            rows.append({"budget": b, "users": k, "method": m, "reduction": r.reduction})
        frame = pd.DataFrame(rows)
        frame.to_csv(folder / "budget_curve.csv", index=False)
        from simlab.outputs.antidote_figures import budget_curve

        budget_curve(frame, folder / "budget_curve.png", objective)
    return AntidoteOutcome(table, bool(helped), users if helped else 0, frame)
