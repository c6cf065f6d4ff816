"""Tests of the ``als`` matrix-factorisation baseline."""

from __future__ import annotations

import io
import itertools

import torch

from simlab.core.protocols import PlatformView
from simlab.core.rows import Rows
from simlab.core.state import Catalog, Graph, ImpressionLog, ObservedItems
from simlab.recommenders.als import ALSRecommender, als_objective, als_solve, observed_entries
from simlab.registry import RECOMMENDERS


def grow(view: PlatformView, **columns: torch.Tensor) -> None:
    """Append observable items (topic, creator, created, impressions, engagements) to the view,
    as the loop does when the catalog grows."""
    old = view.items
    view.items = ObservedItems(
        *(
            torch.cat([old.live(name), columns[name]])
            for name in ("topic", "creator", "created", "impressions", "engagements")
        ),
        size=old.size + columns["topic"].shape[0],
    )


def make_view(n_users: int, n_items: int, capacity: int | None = None) -> PlatformView:
    cap = capacity or n_items
    catalog = Catalog(
        stance=torch.zeros(cap, 1),
        topic=torch.zeros(cap, dtype=torch.long),
        creator=torch.zeros(cap, dtype=torch.long),
        quality=torch.zeros(cap),
        created=torch.zeros(cap, dtype=torch.long),
        impressions=torch.zeros(cap, dtype=torch.long),
        engagements=torch.zeros(cap, dtype=torch.long),
        size=n_items,
    )
    empty = torch.zeros(0, dtype=torch.long)
    graph = Graph(torch.zeros(n_users, n_users).to_sparse_csr(), empty, empty, torch.zeros(0), torch.zeros(n_users))
    return PlatformView(
        n_users=n_users,
        items=catalog.observed(),
        user_impressions=torch.zeros(n_users, dtype=torch.long),
        user_engagements=torch.zeros(n_users, dtype=torch.long),
        history=torch.full((n_users, 3), -1),
        graph=graph,
        device=torch.device("cpu"),
    )


def make_als(view: PlatformView, seed: int = 0, **settings) -> ALSRecommender:
    rec = RECOMMENDERS.build({"type": "als", **settings})
    rec.setup(view, torch.Generator().manual_seed(seed))
    return rec


def low_rank(n: int, m: int, r: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, r, generator=g) @ torch.randn(m, r, generator=g).T / r**0.5


def full_entries(ratings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n, m = ratings.shape
    users = torch.arange(n).repeat_interleave(m)
    items = torch.arange(m).repeat(n)
    return users, items, ratings.reshape(-1)


def test_per_row_solve_equals_closed_form() -> None:
    g = torch.Generator().manual_seed(1)
    V = torch.randn(6, 3, generator=g, dtype=torch.float64)
    R = torch.randn(4, 6, generator=g, dtype=torch.float64)
    users, items, ratings = full_entries(R)
    lam = 0.7
    U = als_solve(V, users, items, ratings, 4, lam, chunk=5)  # chunking must not matter
    closed = torch.linalg.inv(V.T @ V + lam * torch.eye(3, dtype=torch.float64)) @ V.T @ R.T
    torch.testing.assert_close(U, closed.T)
    # a row with only some entries observed uses only those columns
    keep = items != 2
    U2 = als_solve(V, users[keep], items[keep], ratings[keep], 4, lam)
    Vo = V[[0, 1, 3, 4, 5]]
    closed2 = torch.linalg.solve(Vo.T @ Vo + lam * torch.eye(3, dtype=torch.float64), Vo.T @ R[0, [0, 1, 3, 4, 5]])
    torch.testing.assert_close(U2[0], closed2)


def test_recovers_low_rank_matrix_and_objective_decreases() -> None:
    view = make_view(40, 30)
    R = low_rank(40, 30, 3)
    rec = make_als(view, rank=3, reg=1e-3, n_iters=30)
    history = rec.fit(*full_entries(R))
    assert all(b <= a * (1 + 1e-6) + 1e-9 for a, b in itertools.pairwise(history)), history
    rmse = (rec.predict_matrix(torch.arange(40), torch.arange(30)) - R).pow(2).mean().sqrt()
    assert rmse < 0.02, rmse
    assert rec.U.shape == (40, 3) and rec.V.shape == (30, 3)


def test_observed_entries_average_duplicates() -> None:
    u, i, r = observed_entries(torch.tensor([0, 0, 1]), torch.tensor([2, 2, 0]), torch.tensor([1.0, 0.0, 1.0]), 3)
    assert u.tolist() == [0, 1] and i.tolist() == [2, 0] and r.tolist() == [0.5, 1.0]


def log_of(R: torch.Tensor, n: int, seed: int = 0) -> ImpressionLog:
    g = torch.Generator().manual_seed(seed)
    users = torch.randint(0, R.shape[0], (n,), generator=g)
    items = torch.randint(0, R.shape[1], (n,), generator=g)
    labels = (torch.rand(n, generator=g) < torch.sigmoid(4 * R[users, items])).float()
    log = ImpressionLog(n, 8, 3, torch.device("cpu"))
    log.append(
        user=users,
        item=items,
        position=torch.zeros(n, dtype=torch.long),
        label=labels,
        step=torch.zeros(n, dtype=torch.long),
        dense=torch.zeros(n, 8),
        history=torch.full((n, 3), -1),
    )
    return log


def test_train_on_log_grow_catalog_synthetic_users_and_checkpoint() -> None:
    view = make_view(20, 15, capacity=15)
    R = low_rank(20, 15, 2)
    rec = make_als(view, rank=2, reg=0.5, n_iters=5)
    out = rec.train(log_of(R, 2000), step=0)
    assert out["rmse"] < 0.5
    scores = rec.score(torch.arange(3), torch.arange(6).expand(3, 6))
    torch.testing.assert_close(scores, rec.predict_matrix(torch.arange(3), torch.arange(6)))
    p = rec.predict(torch.arange(20), torch.arange(20) % 15)
    assert ((p > 0) & (p < 1)).all()
    # catalog grows: V grows, learned rows kept
    old_v = rec.V.clone()
    grow(
        view, **{k: getattr(view.items, k)[:10] for k in ("topic", "creator", "created", "impressions", "engagements")}
    )
    assert rec.V.shape == (25, 2) and torch.equal(rec.V[:15], old_v)
    assert rec.score(torch.arange(2), torch.tensor([[20, 24], [0, 1]])).shape == (2, 2)
    # synthetic users with extra rows
    ids = rec.add_synthetic_users(2)
    assert ids.tolist() == [20, 21] and rec.U.shape == (22, 2)
    extra = Rows.synthetic(ids.repeat(5), torch.arange(10), torch.ones(10), step=1, history=3, n_dense=8)
    rec.train(log_of(R, 2000), step=1, extra=extra)
    assert rec.predict_matrix(ids, torch.arange(10)).mean() > 0.3
    # checkpoint round trip
    buf = io.BytesIO()
    torch.save(rec.state_dict(), buf)
    buf.seek(0)
    other = make_als(view, seed=5, rank=2, reg=0.5, n_iters=5)
    other.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(
        other.predict_matrix(torch.arange(22), torch.arange(25)), rec.predict_matrix(torch.arange(22), torch.arange(25))
    )


def test_solve_is_differentiable_in_ratings() -> None:
    V = torch.randn(5, 2, dtype=torch.float64)
    users, items, ratings = full_entries(torch.randn(3, 5, dtype=torch.float64))
    ratings.requires_grad_(True)
    U = als_solve(V, users, items, ratings, 3, 0.1)
    Vn = als_solve(U, items, users, ratings, 5, 0.1)
    (g,) = torch.autograd.grad(als_objective(U, Vn, users, items, ratings.detach(), 0.1), ratings)
    assert torch.isfinite(g).all()
