"""Training rows: the one type of the impression log's rows, the feed's training rows and
``Recommender.train(extra=)``.

A :class:`Rows` holds R impressions as columns, exactly as the platform logs them (what a
production logger records at impression time). Recommenders assemble their own batches from it
(the ALS its entries, the DLRM its model batch); interventions that add synthetic users' data
(antidote data) hand one to the next retrain.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor


@dataclass(frozen=True)
class Rows:
    """R logged (or synthetic) impressions as columns.

    Attributes:
        user: (R,) long, the user id the platform knows (logged-out users: the anonymous id;
            synthetic users: ids past the real ones).
        item: (R,) long item ids.
        position: (R,) long slate positions, 0 the top.
        label: (R,) float32 engagement in [0, 1] (0/1 when logged; synthetic rows may be soft).
        step: (R,) long, the step the row was logged at (synthetic rows: the retrain's step).
        dense: (R, n_dense) float32 observable dense features at impression time.
        history: (R, H) long, the user's engagement-history bag at impression time, padded with -1.
    """

    user: Tensor
    item: Tensor
    position: Tensor
    label: Tensor
    step: Tensor
    dense: Tensor
    history: Tensor

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def columns(self) -> dict[str, Tensor]:
        """The columns by name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def select(self, index: Tensor) -> Rows:
        """The rows at ``index``: (S,) long positions or an (R,) bool mask."""
        return Rows(**{name: column[index] for name, column in self.columns().items()})

    def tail(self, n: int) -> Rows:
        """The newest (last) ``n`` rows (all when there are fewer)."""
        return Rows(**{name: column[-n:] for name, column in self.columns().items()})

    def replace(self, **columns: Tensor) -> Rows:
        """A copy with the named columns replaced (e.g. soft labels that carry a gradient)."""
        return Rows(**{**self.columns(), **columns})

    @staticmethod
    def concat(*parts: Rows | None) -> Rows | None:
        """The rows of ``parts`` one after the other (None parts skipped; None if all are).

        History bags of different lengths are left-padded with -1 to the longest.
        """
        present = [p for p in parts if p is not None]
        if not present:
            return None
        if len(present) == 1:
            return present[0]
        length = max(p.history.shape[1] for p in present)
        out = {}
        for name in present[0].columns():
            if name == "history":
                out[name] = torch.cat([pad_history(p.history, length) for p in present])
            else:
                out[name] = torch.cat([getattr(p, name) for p in present])
        return Rows(**out)

    @staticmethod
    def synthetic(
        user: Tensor,
        item: Tensor,
        label: Tensor,
        step: int,
        history: int,
        dense: Tensor | None = None,
        n_dense: int = 0,
    ) -> Rows:
        """Rows of synthetic users, who have no slate (position 0) and no engagement history.

        Args:
            user: (R,) long user ids.
            item: (R,) long item ids.
            label: (R,) engagement labels in [0, 1] (kept as given: a soft label may carry a
                gradient).
            step: the step they are added at.
            history: H, the log's history length (the bags are all -1).
            dense: (R, n_dense) dense features (default: zeros of width ``n_dense``).
            n_dense: the dense width when ``dense`` is not given.

        Returns:
            The rows.
        """
        n, device = user.shape[0], user.device
        return Rows(
            user=user,
            item=item,
            position=torch.zeros(n, dtype=torch.long, device=device),
            label=label,
            step=torch.full((n,), step, dtype=torch.long, device=device),
            dense=torch.zeros(n, n_dense, device=device) if dense is None else dense,
            history=torch.full((n, history), -1, dtype=torch.long, device=device),
        )

    @staticmethod
    def empty(n_dense: int, history: int, device: torch.device | str = "cpu") -> Rows:
        """No rows, with the columns' dtypes and trailing shapes."""
        long = torch.zeros(0, dtype=torch.long, device=device)
        return Rows(
            user=long,
            item=long.clone(),
            position=long.clone(),
            label=torch.zeros(0, device=device),
            step=long.clone(),
            dense=torch.zeros(0, n_dense, device=device),
            history=torch.full((0, history), -1, dtype=torch.long, device=device),
        )


def pad_history(h: Tensor, length: int) -> Tensor:
    """(B, H) history bags -> (B, length), padded with -1 on the left (the oldest side)."""
    if h.shape[1] >= length:
        return h
    pad = torch.full((h.shape[0], length - h.shape[1]), -1, dtype=h.dtype, device=h.device)
    return torch.cat([pad, h], dim=1)
