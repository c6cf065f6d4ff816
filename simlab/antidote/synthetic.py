"""A small synthetic ratings matrix with two opposed camps (for tests, the README and the CLI demo).

Users belong to one of two camps c_i = +-1; items have a stance s_j in [-1, 1] (a share of them
polarising, |s_j| near 1, the rest neutral) and a quality q_j. User i rates item j

    x_ij = clip(round(3 + q_j + 1.5 c_i s_j + noise), 1, 5),   noise ~ N(0, sigma^2),

and each rating is observed with probability ``density``: the camps agree on neutral items and
disagree on polarising ones, so the fitted model's predictions are polarised (high R_pol).
"""

from __future__ import annotations

import numpy as np


def two_camps(
    n_users: int = 60,
    n_items: int = 40,
    density: float = 0.4,
    polarising: float = 0.5,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(n_users, n_items) ratings in 1..5 with NaN for unobserved, and the (n_users,) camp labels 0/1."""
    rng = np.random.default_rng(seed)
    camp = np.arange(n_users) % 2
    sign = np.where(camp == 0, 1.0, -1.0)
    strong = rng.random(n_items) < polarising
    stance = np.where(strong, rng.choice([-1.0, 1.0], n_items) * rng.uniform(0.7, 1.0, n_items), 0.0)
    quality = rng.uniform(-0.5, 0.5, n_items)
    ratings = 3 + quality[None, :] + 1.5 * sign[:, None] * stance[None, :] + rng.normal(0, noise, (n_users, n_items))
    ratings = np.clip(np.round(ratings), 1, 5)
    ratings[rng.random((n_users, n_items)) >= density] = np.nan
    return ratings, camp


def movielens_like(
    n_users: int = 943,
    n_items: int = 1682,
    n_ratings: int = 100_000,
    rank: int = 5,
    min_per_user: int = 20,
    seed: int = 0,
) -> np.ndarray:
    """A ratings table the size and shape of MovieLens 100k (943 users, 1,682 items, 100,000
    ratings, at least 20 per user, long-tailed item popularity, integer ratings 1-5), generated
    (nothing is downloaded): (n_ratings, 4) integer rows of user id, item id (both from 1), rating
    and a timestamp, as ``u.data`` holds them.

    Each user rates ``min_per_user`` items plus a log-normal share of the rest, drawn without
    replacement with probability proportional to a Zipf-like item popularity; the rating is
    clip(round(3.5 + b_u + b_j + u_i . v_j + noise), 1, 5) with ``rank`` latent tastes.
    """
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, n_users)
    extra = n_ratings - min_per_user * n_users
    counts = min_per_user + np.floor(extra * activity / activity.sum()).astype(int)
    counts[np.argsort(-activity)[: n_ratings - counts.sum()]] += 1  # hand out the rounding remainder
    counts = np.minimum(counts, n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = rng.permutation(popularity) / popularity.sum()
    users = rng.normal(0, 0.6, (n_users, rank))
    items = rng.normal(0, 0.6, (n_items, rank))
    user_bias, item_bias = rng.normal(0, 0.4, n_users), rng.normal(0, 0.5, n_items)
    rows = []
    for u in range(n_users):
        chosen = rng.choice(n_items, counts[u], replace=False, p=popularity)
        score = 3.5 + user_bias[u] + item_bias[chosen] + items[chosen] @ users[u] + rng.normal(0, 0.7, chosen.size)
        rating = np.clip(np.round(score), 1, 5)
        rows.append(
            np.column_stack(
                [np.full(chosen.size, u + 1), chosen + 1, rating, 874_724_710 + rng.integers(0, 10**7, chosen.size)]
            )
        )
    return np.concatenate(rows).astype(np.int64)


def write_movielens(path: str, table: np.ndarray) -> None:
    """``table`` (rows of user, item, rating, timestamp) as an ml-100k ``u.data`` file (tab-separated)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines("\t".join(str(int(v)) for v in row) + "\n" for row in table)
