"""Opt-in ``torch.compile`` with a graceful fallback to eager execution (issue 28).

Compiled code is not bit-identical to eager code (inductor fuses and reorders floating-point
operations), and closed-loop simulations are chaotic, so compilation is never a default: the
DLRM recommender's ``compile`` setting turns it on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch


class CompiledOrEager:
    """A function run through ``torch.compile``, or eagerly once compiling it has failed.

    Compilation happens lazily on the first call (and again when shapes change); if
    ``torch.compile`` itself or any compiled call raises, one ``RuntimeWarning`` names the error
    and this and every later call run ``fn`` eagerly. An error of ``fn`` itself therefore
    surfaces from the eager rerun, unchanged.

    Args:
        fn: the function to compile.
        what: what it computes, for the warning (e.g. "the DLRM training loss").
        compiler: the compiler to use (``torch.compile``; tests pass a failing one).
    """

    def __init__(self, fn: Callable[..., Any], what: str, compiler: Callable[..., Any] | None = None):
        self.fn, self.what = fn, what
        self.compiled: Callable[..., Any] | None = None
        try:
            self.compiled = (compiler or torch.compile)(fn, dynamic=None)
        except Exception as exc:  # no compiler for this platform or torch build
            self._give_up(exc)

    @property
    def active(self) -> bool:
        """Whether calls still go through the compiled function."""
        return self.compiled is not None

    def _give_up(self, exc: Exception) -> None:
        self.compiled = None
        message = f"torch.compile of {self.what} failed ({type(exc).__name__}: {exc}); running it eagerly"
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # a backend or codegen failure: the eager path still works
                self._give_up(exc)
        return self.fn(*args, **kwargs)
