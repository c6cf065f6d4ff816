"""Gathers of table rows for many (user, item) pairs: the engagement model's hot path."""

from __future__ import annotations

from torch import Tensor


def take_rows(table: Tensor, index: Tensor) -> Tensor:
    """``table.index_select(0, index)``, the same values, faster for a table of one column.

    Torch's CPU ``index_select`` copies row by row, about 150 us for 60,000 rows whatever their
    width; a table of one column is gathered as a vector (about 30 us).

    Args:
        table: (M,) or (M, K) rows.
        index: (I,) long row ids.

    Returns:
        (I,) or (I, K): the rows at ``index``.

    Examples:
        >>> import torch
        >>> take_rows(torch.tensor([[0.5], [-1.0]]), torch.tensor([1, 1, 0])).tolist()
        [[-1.0], [-1.0], [0.5]]
    """
    if table.dim() == 2 and table.shape[1] == 1:
        return table.reshape(-1).index_select(0, index).unsqueeze(1)
    return table.index_select(0, index)


def take_cells(table: Tensor, row: Tensor, column: Tensor) -> Tensor:
    """``table[row, column]`` of an (M, K) table as one gather on its flat storage.

    Args:
        table: (M, K).
        row: (I,) long row ids.
        column: (I,) long column ids.

    Returns:
        (I,) the cells.

    Examples:
        >>> import torch
        >>> take_cells(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([1, 0]), torch.tensor([0, 1])).tolist()
        [3.0, 2.0]
    """
    return table.reshape(-1).index_select(0, row * table.shape[1] + column)
