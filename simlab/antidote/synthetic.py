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
