"""Regenerate two_camps_ratings.csv (the shipped demo ratings): python scenarios/data/make_two_camps.py"""

from pathlib import Path

import numpy as np

from simlab.antidote.synthetic import two_camps

ratings, _ = two_camps(n_users=60, n_items=40, seed=0)
out = Path(__file__).with_name("two_camps_ratings.csv")
with open(out, "w", encoding="utf-8") as f:
    f.write("user,item,rating\n")
    for i, j in zip(*np.nonzero(~np.isnan(ratings))):
        f.write(f"u{i},m{j},{int(ratings[i, j])}\n")
print(out)
