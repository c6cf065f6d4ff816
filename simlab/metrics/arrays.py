"""Array handling shared by the measures: inputs as tensors of the computing dtype, NaN for
undefined values, and the float twin of every ``*_t`` measure (:mod:`simlab.metrics.measures`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import ParamSpec

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[float] | float
P = ParamSpec("P")


def device_of(*arrays: object) -> torch.device:
    """The device of the first tensor among ``arrays`` (CPU if none is a tensor)."""
    return next((a.device for a in arrays if isinstance(a, Tensor)), torch.device("cpu"))


def as_tensor(a: ArrayLike, device: torch.device | None = None) -> Tensor:
    """``a`` as a tensor (no copy when it already is one), moved to ``device`` if given."""
    t = a if isinstance(a, Tensor) else torch.as_tensor(np.asarray(a))
    return t if device is None else t.to(device)


def compute_dtype(device: torch.device) -> torch.dtype:
    """The computing dtype: float64, or float32 on MPS (which lacks float64)."""
    return torch.float32 if device.type == "mps" else torch.float64


def as_real(a: ArrayLike, device: torch.device | None = None) -> Tensor:
    """``a`` as a tensor of the computing dtype."""
    t = as_tensor(a, device)
    return t.to(compute_dtype(t.device))


def as_index(a: ArrayLike, device: torch.device | None = None) -> Tensor:
    """``a`` as a flat int64 tensor."""
    return as_tensor(a, device).reshape(-1).long()


def as_columns(x: Tensor) -> Tensor:
    """(N,) -> (N, 1); (N, K, ...) -> (N, K*...)."""
    return x[:, None] if x.dim() == 1 else x.flatten(1)


def nan(device: torch.device) -> Tensor:
    """A scalar NaN in the metrics' compute dtype on ``device`` (a metric with nothing to measure)."""
    return torch.tensor(math.nan, dtype=compute_dtype(device), device=device)


def true_share(mask: Tensor) -> Tensor:
    """The fraction of True entries of a boolean tensor (NaN if empty)."""
    return mask.sum().to(compute_dtype(mask.device)) / mask.numel()


def float_form(fn_t: Callable[P, Tensor]) -> Callable[P, float]:
    """The public twin of a ``*_t`` measure: same arguments and docstring, returns a float."""

    @functools.wraps(fn_t)
    def fn(*args: P.args, **kwargs: P.kwargs) -> float:
        return fn_t(*args, **kwargs).item()

    fn.__name__ = fn.__qualname__ = fn_t.__name__.removesuffix("_t")
    fn.__annotations__ = {**fn_t.__annotations__, "return": "float"}
    return fn
