"""Ratings files: MovieLens ml-100k ``u.data``, ml-1m ``ratings.dat``, ml-latest ``ratings.csv``
and a generic ``user,item,rating`` CSV, read into an (n, d) matrix with NaN for missing.

The format is recognised from the first line: ``::`` separators (ml-1m), tabs (ml-100k), the
header ``userId,movieId,rating,timestamp`` (ml-latest) or ``user,item,rating`` (generic).
A malformed line is a :class:`simlab.core.errors.ScenarioError` naming the file and the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simlab.core.errors import ScenarioError

FORMATS = ("ml-100k", "ml-1m", "ml-latest", "generic")


@dataclass
class RatingsMatrix:
    """``ratings`` (n, d) with NaN for missing; ``users`` (n,) and ``items`` (d,) the file's ids."""

    ratings: np.ndarray
    users: np.ndarray
    items: np.ndarray
    format: str


def _detect(first: str, path: str) -> tuple[str, str, bool]:
    """(format, separator, has_header) from the first line."""
    head = first.strip().lower().replace(" ", "")
    if "::" in first:
        return "ml-1m", "::", False
    if "\t" in first:
        return "ml-100k", "\t", False
    if head.startswith("userid,movieid,rating"):
        return "ml-latest", ",", True
    if head.startswith("user,item,rating"):
        return "generic", ",", True
    raise ScenarioError(
        "expected a ratings file (ml-100k u.data, ml-1m ratings.dat, ml-latest ratings.csv with header "
        f"userId,movieId,rating,timestamp, or a CSV with header user,item,rating), found {first.strip()[:60]!r}",
        file=path,
        line=1,
    )


def read_ratings(path: str | Path, top_users: int | None = None, top_items: int | None = None) -> RatingsMatrix:
    """Read a ratings file; keep the ``top_items`` most rated items, then the ``top_users`` users
    with most ratings among them (as the authors' MovieLens readers do); None keeps all.
    """
    name = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ScenarioError(f"cannot read the ratings file ({exc.strerror})", file=name) from None
    if not lines:
        raise ScenarioError("expected ratings, found an empty file", file=name, line=1)
    fmt, sep, header = _detect(lines[0], name)
    users, items, values = [], [], []
    for number, line in enumerate(lines[1:] if header else lines, start=2 if header else 1):
        if not line.strip():
            continue
        parts = line.strip().split(sep)
        if len(parts) < 3:
            raise ScenarioError(
                f"expected user{sep}item{sep}rating, found {line.strip()[:60]!r}", file=name, line=number
            )
        try:
            rating = float(parts[2])
        except ValueError:
            raise ScenarioError(f"expected a numeric rating, found {parts[2][:30]!r}", file=name, line=number) from None
        if not np.isfinite(rating):
            raise ScenarioError(f"expected a finite rating, found {parts[2][:30]!r}", file=name, line=number)
        users.append(parts[0].strip())
        items.append(parts[1].strip())
        values.append(rating)
    if not values:
        raise ScenarioError("expected at least one rating, found none", file=name)
    user_ids, u = np.unique(np.array(users), return_inverse=True)
    item_ids, i = np.unique(np.array(items), return_inverse=True)
    total = np.zeros((len(user_ids), len(item_ids)))
    count = np.zeros_like(total)
    np.add.at(total, (u, i), values)  # a repeated (user, item) pair is averaged
    np.add.at(count, (u, i), 1)
    ratings = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if top_items is not None:
        keep = np.argsort(-(count > 0).sum(0), kind="stable")[:top_items]
        ratings, item_ids, count = ratings[:, keep], item_ids[keep], count[:, keep]
    if top_users is not None:
        keep = np.argsort(-(count > 0).sum(1), kind="stable")[:top_users]
        ratings, user_ids = ratings[keep], user_ids[keep]
    rated = ~np.isnan(ratings).all(1)
    return RatingsMatrix(ratings[rated], user_ids[rated], item_ids, fmt)


def write_antidote(path: str | Path, antidote: np.ndarray, items: np.ndarray) -> None:
    """The antidote ratings as a ``user,item,rating`` CSV (users named antidote_1, antidote_2, ...)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("user,item,rating\n")
        for k, row in enumerate(antidote, start=1):
            for item, value in zip(items, row):
                f.write(f"antidote_{k},{item},{value:.6g}\n")
