"""Loss, optimiser and trainer for :class:`simlab.recommenders.dlrm.DLRM`, kept outside the model.

A training batch is a dict of tensors over B logged impressions: ``dense`` (B, n_dense),
``user``, ``item``, ``topic``, ``creator`` (B,) long, ``history`` (B, H) long padded with -1,
``label`` (B,) float in [0, 1] (soft labels allowed) and optionally ``position`` (B,) long (the
slate position, read by the PAL position tower when the model has one), ``weight`` (B,) and
``history_group`` (B,) long: rows with one group id share their history bag, which is then
pooled once per group (:meth:`simlab.recommenders.dlrm.SparseArch.lookup`).

Also :func:`functional_sgd_step`, one SGD step written with ``torch.func.functional_call`` so
that the updated parameters are a differentiable function of the batch (labels included): the
unrolled step through which antidote data optimises synthetic users' labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.recommenders.dlrm.arches import SPARSE_FEATURES, first_of_groups
from simlab.recommenders.dlrm.compiled import CompiledOrEager
from simlab.recommenders.dlrm.model import DLRM

OPTIMIZERS = ("adagrad", "sgd", "adam")
# the entries of a batch that say which rows share a history bag (SparseArch.forward reads them)
BAG_KEYS = ("history_group", "history_first", "history_inverse")
GROWTH = 2.0  # geometric growth of tables that follow the catalog: amortised O(1) copies per new row


def window_rows(log: ImpressionLog, step: int, window: int, unit: str, retrains: Sequence[int] = ()) -> Rows:
    """The training window of a retrain at ``step``.

    The newest ``window`` impressions (unit ``impressions``), those of the last ``window`` steps
    (``steps``), or those logged after the ``window``-th most recent retrain before ``step``
    (``retrains``: the steps of the latest retrains, oldest first; every row until there were
    that many; a retrain at ``step`` itself is not counted, so the batch of a retrain can be
    rebuilt after it ran). ``retrains`` with window 1 trains on each impression once: online
    training, the regime in which click models do not overfit their sparse ids (Zhang et al.,
    CIKM 2022, "Towards understanding the overfitting phenomenon of deep click-through rate
    models").

    Args:
        log: the impression log.
        step: the step of the retrain.
        window: the window's length in ``unit``.
        unit: ``impressions``, ``steps`` or ``retrains``.
        retrains: the steps of the latest retrains (unit ``retrains`` only).

    Returns:
        The window's rows, oldest first.
    """
    if unit == "retrains":
        earlier = [r for r in retrains if r < step]
        return log.rows(since_step=earlier[-window] + 1 if len(earlier) >= window else None)
    if unit == "steps":
        return log.rows(since_step=step - window + 1)
    return log.rows().tail(window)


def split_batch(
    batch: dict[str, Tensor], features: Sequence[str] = SPARSE_FEATURES
) -> tuple[Tensor, dict[str, Tensor]]:
    """The model's inputs from a training batch.

    Args:
        batch: a training batch (see the module docstring).
        features: the sparse features the model reads (``DLRM.sparse_features``).

    Returns:
        dense (B, n_dense) and sparse {feature: ids} over ``features`` (and the history-bag
        grouping keys the batch has, :data:`BAG_KEYS`).
    """
    keys = (*features, *(k for k in BAG_KEYS if k in batch))
    return batch["dense"], {f: batch[f] for f in keys}


def bce_loss(logits: Tensor, labels: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean binary cross-entropy with logits, (B,), (B,) -> (); labels may be soft."""
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), weight=weight)


def log1mexp(a: Tensor) -> Tensor:
    """log(1 - exp(a)) for a < 0, accurate at both ends (Maechler 2012, "Accurately computing
    log(1 - exp(-|a|))"); ``a`` is kept below -1e-7 so that neither branch of the select is infinite.
    """
    a = a.clamp(max=-1e-7)
    return torch.where(a > -math.log(2), torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


def position_aware_bce(logits: Tensor, log_examined: Tensor, labels: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean BCE of p = q * sigmoid(z) (PAL, Guo et al. 2019), (B,) logits z, (B,) log q -> ().

    log p = log q + log sigmoid(z) and log(1 - p) = log1mexp(log p), so no probability is ever
    rounded to 0 or 1; labels may be soft. With log q = 0 it equals :func:`bce_loss`.
    """
    log_p = log_examined.to(logits.dtype) + F.logsigmoid(logits)
    y = labels.to(logits.dtype)
    loss = -(y * log_p + (1 - y) * log1mexp(log_p))
    return (loss * weight).mean() if weight is not None else loss.mean()


def batch_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """The training loss of a batch: BCE on engagement, through PAL's position tower when the
    model has one and the batch has positions.
    """
    dense, sparse = split_batch(batch, model.sparse_features if isinstance(model, DLRM) else SPARSE_FEATURES)
    logits = model(dense, sparse)
    position_arch = model.position_arch if isinstance(model, DLRM) else None
    if position_arch is not None and "position" in batch:
        return position_aware_bce(logits, position_arch(batch["position"]), batch["label"], batch.get("weight"))
    return bce_loss(logits, batch["label"], batch.get("weight"))


def make_optimizer(name: str, params: Any, lr: float, fused: bool = False, flat: bool = False) -> torch.optim.Optimizer:
    """Adagrad (the DLRM default), SGD or Adam; Adagrad and SGD accept sparse embedding gradients.

    Args:
        name: ``adagrad``, ``sgd`` or ``adam``.
        params: parameters, or parameter groups (dicts with their own ``lr``).
        lr: the default learning rate.
        fused: torch's fused implementation (one kernel per parameter; about 3.5x faster per step
            on CPU at the DLRM's sizes, but its arithmetic differs from the default update in the
            last bits, so it is only used with the opt-in ``compile`` setting); dense gradients only.
        flat: Adagrad as :class:`FlatAdagrad` (the same numbers as torch's, with fewer operators);
            dense gradients only.

    Returns:
        The optimiser.
    """
    # None (not False) keeps torch's own default choice of implementation
    use_fused = True if fused else None
    if name == "adagrad":
        if flat and not fused:
            return FlatAdagrad(params, lr=lr)
        return torch.optim.Adagrad(params, lr=lr, fused=use_fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, fused=use_fused)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, fused=use_fused)
    raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")


class FlatAdagrad(torch.optim.Adagrad):
    """torch's Adagrad (no decay; Duchi, Hazan & Singer 2011) over one flat buffer.

    At its first step every parameter becomes a view of one flat parameter buffer, its gradient a
    view of one flat gradient buffer (autograd adds into a gradient that exists, in place) and its
    accumulator a view of one flat sum, so that an update is s <- s + g^2, p <- p - lr g /
    (sqrt(s) + eps) as three operations over the buffers (one per learning rate for the last)
    instead of about six per parameter: the per-operator overhead that dominates mini-batches of
    a few hundred rows on the CPU. Element by element it is torch's update, so the numbers are
    the same (tested). A parameter that received no gradient gets g = 0, which changes neither
    it nor its sum. State, ``state_dict`` and ``load_state_dict`` are torch's Adagrad's
    (checkpoints are interchangeable); after ``load_state_dict`` or new parameters the buffers
    are built again at the next step. Dense gradients of one dtype and device only.
    """

    def __init__(self, params: Any, lr: float):
        super().__init__(params, lr=lr)
        self._flat: tuple[Tensor, Tensor, Tensor, list[tuple[int, int, float]], list[Tensor]] | None = None
        self._pending = 0  # steps not yet counted in the state's per-parameter step counts

    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    @torch.no_grad()
    def _bind(self) -> bool:
        """Make the parameters, gradients and sums views of flat buffers; False (nothing done)
        for parameters of several dtypes or devices, or with sparse gradients.
        """
        params = self._params()
        like = params[0]
        if any(
            p.dtype != like.dtype or p.device != like.device or (p.grad is not None and p.grad.is_sparse)
            for p in params
        ):
            return False
        n = sum(p.numel() for p in params)
        flat_p, flat_g, flat_s = (torch.zeros(n, dtype=like.dtype, device=like.device) for _ in range(3))
        segments, grads, offset = [], [], 0
        for group in self.param_groups:
            start = offset
            for p in group["params"]:
                k, state = p.numel(), self.state[p]
                flat_p[offset : offset + k].copy_(p.reshape(-1))
                flat_s[offset : offset + k].copy_(state["sum"].reshape(-1))
                if p.grad is not None:
                    flat_g[offset : offset + k].copy_(p.grad.reshape(-1))
                p.data = flat_p[offset : offset + k].view_as(p)
                grads.append(flat_g[offset : offset + k].view_as(p))
                p.grad = grads[-1]
                state["sum"] = flat_s[offset : offset + k].view_as(p)
                offset += k
            segments.append((start, offset, float(group["lr"])))
        self._flat = (flat_p, flat_g, flat_s, segments, grads)
        return True

    def _bound(self) -> bool:
        """Whether every parameter and gradient is still a view of the buffers (a parameter whose
        data or gradient was replaced since makes the next step build them again).
        """
        if self._flat is None:
            return False
        storage = self._flat[0].untyped_storage().data_ptr()
        return all(
            p.grad is g and p.untyped_storage().data_ptr() == storage for p, g in zip(self._params(), self._flat[4])
        )

    def zero_grad(self, set_to_none: bool = True) -> None:
        if self._bound():
            assert self._flat is not None
            self._flat[1].zero_()  # the gradients stay views of the flat buffer
        else:
            super().zero_grad(set_to_none)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if not self._bound() and not self._bind():
            self._flat = None
            return super().step(closure)
        assert self._flat is not None
        flat_p, flat_g, flat_s, segments, _ = self._flat
        flat_s.addcmul_(flat_g, flat_g, value=1)
        std = flat_s.sqrt().add_(self.defaults["eps"])
        for start, end, lr in segments:
            flat_p[start:end].addcdiv_(flat_g[start:end], std[start:end], value=-lr)
        self._pending += 1
        return None

    def state_dict(self) -> dict[str, Any]:
        if self._pending:  # the step counts, as torch's Adagrad keeps them
            for p in self._params():
                self.state[p]["step"] += self._pending
            self._pending = 0
        return super().state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._flat, self._pending = None, 0


class Trainer:
    """Mini-batch training of a model on logged impressions with BCE on engagement.

    The optimizer's per-parameter state is keyed by parameter name so that it survives table
    growth: :meth:`regrow` rebuilds the optimizer over the new parameters and pads each
    per-row state tensor (Adagrad's sum, Adam's moments) with zeros for the new rows, which is
    exactly the state a never-updated row has. ``lr_of`` gives parameters whose name starts with
    a key their own learning rate (the DLRM's PAL position tower: a few scalars that every
    impression informs, which must move faster than the embeddings that would otherwise absorb
    the position's effect).

    Adagrad with dense gradients runs as :class:`FlatAdagrad` (torch's numbers, fewer operators).

    ``compile`` (opt-in, not bit-identical to the default): the loss's forward and backward run
    through ``torch.compile`` (:class:`~simlab.recommenders.dlrm.compiled.CompiledOrEager`, eager
    with one warning if compiling fails) and the optimiser uses torch's fused update (dense
    gradients only; with sparse embedding gradients the default update is kept).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: str = "adagrad",
        lr: float = 0.05,
        batch_size: int = 1024,
        sparse_grad: bool = False,
        lr_of: dict[str, float] | None = None,
        compile: bool = False,
    ):
        self.model, self.name, self.lr, self.batch_size = model, optimizer, lr, batch_size
        self.lr_of = dict(lr_of or {})
        sparse_arch = getattr(model, "sparse_arch", None)
        sparse = sparse_grad and optimizer != "adam"
        self.sparse = sparse
        if sparse_arch is not None:
            # sparse embedding gradients touch only the looked-up rows (cost independent of the
            # table size, as in the reference); Adam has no sparse path, so it gets dense ones
            sparse_arch.set_sparse_grad(sparse)
        self.fused = compile and not (sparse and sparse_arch is not None)
        self.loss: Callable[[nn.Module, dict[str, Tensor]], Tensor] = batch_loss
        if compile:
            self.loss = CompiledOrEager(batch_loss, "the DLRM training loss")
        self._build()

    def _build(self) -> None:
        self.params = dict(self.model.named_parameters())
        groups: dict[float, list[Tensor]] = {}
        for name, p in self.params.items():
            lr = next((v for prefix, v in self.lr_of.items() if name.startswith(prefix)), self.lr)
            groups.setdefault(lr, []).append(p)
        param_groups = [{"params": ps, "lr": lr} for lr, ps in groups.items()]
        self.optimizer = make_optimizer(self.name, param_groups, self.lr, fused=self.fused, flat=not self.sparse)

    def learning_rates(self) -> dict[str, float]:
        """Parameter name -> its learning rate (its parameter group's)."""
        return {
            name: next((v for prefix, v in self.lr_of.items() if name.startswith(prefix)), self.lr)
            for name in self.params
        }

    def accumulators(self) -> dict[str, Tensor] | None:
        """Adagrad's accumulated squared gradients by parameter name (zeros for a parameter not yet
        stepped), detached copies; None for the other optimisers (which are unrolled as SGD).
        """
        if self.name != "adagrad":
            return None
        out = {}
        for name, p in self.params.items():
            state = self.optimizer.state.get(p, {})
            out[name] = state["sum"].detach().clone() if "sum" in state else torch.zeros_like(p.detach())
        return out

    def regrow(self) -> None:
        """Rebuild the optimizer after parameters were replaced by larger ones (table growth)."""
        old = {name: self.optimizer.state.get(p, {}) for name, p in self.params.items()}
        self._build()
        for name, p in self.params.items():
            state = old.get(name)
            if state:
                self.optimizer.state[p] = {k: _pad_rows(v, p) for k, v in state.items()}

    def step(self, batch: dict[str, Tensor]) -> Tensor:
        """One optimizer step on a mini-batch; returns the (detached) loss."""
        self.optimizer.zero_grad(set_to_none=True)
        if "history_group" in batch:
            # the bags' grouping, computed here for the eager and the compiled loss alike (the same
            # values as SparseArch computing it): torch.unique's output shape depends on the data,
            # so a compiled loss must get it as an input
            batch = dict(batch)
            batch["history_first"], batch["history_inverse"] = first_of_groups(batch.pop("history_group"))
        loss = self.loss(self.model, batch)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def fit(self, batch: dict[str, Tensor], epochs: int, generator: torch.Generator) -> dict[str, float]:
        """``epochs`` shuffled passes of mini-batches over ``batch``; returns the last pass's mean loss."""
        n = batch["label"].shape[0]
        if n == 0:
            return {"samples": 0}  # no loss to report (a NaN would read as divergence)
        device = batch["label"].device
        self.model.train()
        total = torch.zeros((), device=device)
        for _ in range(epochs):
            total = torch.zeros((), device=device)
            order = torch.randperm(n, generator=generator, device=generator.device).to(device)
            for idx in order.split(self.batch_size):
                mini = {k: v.index_select(0, idx) for k, v in batch.items()}
                total += self.step(mini) * idx.shape[0]
        return {"loss": float(total) / n, "samples": n}

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._build()
        self.optimizer.load_state_dict(state)


def _pad_rows(value: Any, param: Tensor) -> Any:
    if not isinstance(value, Tensor) or value.dim() == 0 or value.shape == param.shape:
        return value
    pad = torch.zeros((param.shape[0] - value.shape[0], *value.shape[1:]), dtype=value.dtype, device=value.device)
    return torch.cat([value, pad])


def functional_loss(model: DLRM, params: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
    """The training loss of :func:`batch_loss` evaluated with ``params`` instead of the model's own.

    Args:
        model: the DLRM (its structure; its parameters are not read).
        params: name -> tensor for every parameter of ``model``.
        batch: a training batch (see the module docstring).

    Returns:
        The scalar loss, differentiable with respect to ``params`` and the batch's labels.
    """
    dense, sparse = split_batch(batch, model.sparse_features)
    with model.sparse_arch.differentiable_twice():
        logits = functional_call(model, params, (dense, sparse))
    position_arch = model.position_arch
    if position_arch is not None and "position" in batch:
        prefix = "position_arch."
        tower = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
        log_examined = functional_call(position_arch, tower, (batch["position"],))
        return position_aware_bce(logits, log_examined, batch["label"], batch.get("weight"))
    return bce_loss(logits, batch["label"], batch.get("weight"))


def functional_sgd_step(
    model: DLRM, params: dict[str, Tensor], batch: dict[str, Tensor], lr: float
) -> dict[str, Tensor]:
    """Params - lr * grad(loss(params, batch)), built with ``create_graph`` so it stays differentiable.

    Gradients flow from anything computed from the returned parameters back to ``params`` and to
    the batch (e.g. soft labels of synthetic users with ``requires_grad``). Use dense embedding
    gradients (``model.sparse_arch.set_sparse_grad(False)``) if second derivatives are needed
    with respect to the embedding tables themselves.

    Args:
        model: the DLRM.
        params: name -> tensor, the parameters before the step.
        batch: the step's batch.
        lr: the learning rate.

    Returns:
        The parameters after the step.
    """
    return functional_adagrad_steps(model, params, None, dict.fromkeys(params, lr), [batch])


def functional_adagrad_steps(
    model: DLRM,
    params: dict[str, Tensor],
    sums: dict[str, Tensor] | None,
    lrs: dict[str, float],
    batches: Sequence[dict[str, Tensor]],
    eps: float = 1e-10,
) -> dict[str, Tensor]:
    """Optimiser steps on ``batches`` in order, differentiable (``create_graph``): the unrolled update.

    Adagrad (Duchi, Hazan & Singer 2011, as ``torch.optim.Adagrad`` with no decay):
    s <- s + g^2, p <- p - lr g / (sqrt(s) + eps), from the accumulators ``sums``; plain SGD,
    p <- p - lr g, when ``sums`` is None.

    Args:
        model: the DLRM.
        params: name -> tensor, the parameters before the first step.
        sums: name -> Adagrad's accumulated squared gradients (same shapes), or None for SGD.
        lrs: name -> the parameter's learning rate (its parameter group's).
        batches: the mini-batches, in the order the optimiser sees them.
        eps: Adagrad's epsilon.

    Returns:
        The parameters after the last step, differentiable with respect to ``params`` and to
        anything the batches were computed from (e.g. synthetic users' soft labels).
    """
    params, sums = dict(params), None if sums is None else dict(sums)
    names = [n for n, p in params.items() if p.requires_grad]
    for batch in batches:
        loss = functional_loss(model, params, batch)
        grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True, allow_unused=True)
        for name, g in zip(names, grads):
            if g is None:
                continue
            if sums is None:
                params[name] = params[name] - lrs[name] * g
                continue
            total = sums[name] + g * g
            sums[name] = total
            # sqrt'(0) is infinite: a tiny floor keeps the derivative finite where a row has
            # neither history nor gradient (its update is 0 either way)
            params[name] = params[name] - lrs[name] * g / ((total + 1e-30).sqrt() + eps)
    return params
