"""The ``dlrm`` recommender: DLRM (Naumov et al. 2019, arXiv:1906.00091) trained online on the log.

It sees only what the platform observes (the :class:`~simlab.core.protocols.PlatformView`: ids,
topic, creator, the engagement history and the dense counters) and the impression log.
Shapes: N users, M items, A active users, C candidates, B batch, d embedding dim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pydantic
import torch
from torch import Tensor
from torch.func import functional_call

from simlab.core.protocols import N_ITEM_DENSE, N_USER_DENSE, PlatformView
from simlab.core.rows import Rows
from simlab.core.state import ImpressionLog
from simlab.recommenders.dlrm.arches import first_of_groups
from simlab.recommenders.dlrm.model import DLRM
from simlab.recommenders.dlrm.trainer import (
    GROWTH,
    Trainer,
    functional_adagrad_steps,
    split_batch,
    window_rows,
)
from simlab.recommenders.replay import trial_retrain

AUTO_SPARSE_ROWS = 1 << 15  # sparse_grad "auto": tables this large train faster with sparse gradients
POSITIONS = 16  # the position tower's first capacity; it grows for longer slates


class DLRMRecommender:
    """DLRM ranking model retrained every ``retrain_every`` steps (the engine decides) on a sliding window.

    Tables: user (N real + synthetic users; none with ``user_id: false``, when a user is only
    the history bag and the counters, as in YouTube's candidate model, Covington, Adams & Sargin,
    RecSys 2016), item and creator (grow with the catalog), topic, history (own table, or the
    item table's rows with ``history_table: shared``). Ranking uses
    :meth:`DLRM.factored_forward`; ``predict`` the plain forward.

    Training (docs/learning.md): by default each retrain makes one pass over the impressions
    logged since the previous retrain (``window: 1``, ``window_unit: retrains``), in
    mini-batches of 256, so every impression is trained on once, as in production online
    training; the slate position enters only through PAL's position tower
    (``position_debias``), so that serving scores engagement as if at the top position.
    """

    # score() returns engagement logits, so the engine takes progressive-validation predictions
    # and probe-set predictions from the (factored) scoring path
    scores_are_logits = True
    privileged = False

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        embedding_dim: int = pydantic.Field(16, gt=0, le=4096, description="d, width of every embedding table")
        bottom_mlp: list[int] = pydantic.Field(
            [64, 16], description="layer widths of the dense arch (the last must equal embedding_dim for dot)"
        )
        top_mlp: list[int] = pydantic.Field([64, 32, 1], description="layer widths of the over arch (ends in 1)")
        interaction: Literal["dot", "cat"] = pydantic.Field(
            "dot", description="pairwise dots of the F vectors (strict lower triangle), or their concatenation"
        )
        self_interaction: bool = pydantic.Field(False, description="dot interaction: keep the diagonal too")
        user_id: bool = pydantic.Field(
            True,
            description="a user-id embedding table; false: users are only their history bag and counters "
            "(Covington et al. 2016)",
        )
        history_table: Literal["own", "shared"] = pydantic.Field(
            "own", description="the history bag looks up its own table, or the item table's rows"
        )
        # what the bottom MLP reads: "all" dense features (the user's counters and the item's
        # popularity and age, so x is per pair), or "user" counters only (a per-request
        # context: x is computed once per user and scoring is fully factored, per pair only
        # the cross dots and the top MLP; item popularity and age are then not used)
        dense_features: Literal["all", "user"] = pydantic.Field(
            "all", description="bottom MLP input: user counters and item popularity and age, or user counters only"
        )
        init_scale: float = pydantic.Field(0.05, gt=0, description="s, embedding rows ~ U(-s, s) (init: scale)")
        init: Literal["scale", "reference"] = pydantic.Field(
            "scale", description="embedding rows ~ U(-s, s), or the reference's U(-sqrt(1/rows), sqrt(1/rows))"
        )
        pooling: Literal["mean", "sum"] = pydantic.Field(
            "mean", description="history bag pooling: mean over its items, or their sum (the reference)"
        )
        optimizer: Literal["adagrad", "sgd", "adam"] = pydantic.Field("adagrad", description="training optimiser")
        lr: float = pydantic.Field(0.05, gt=0, description="learning rate")
        epochs: int = pydantic.Field(1, ge=1, le=10_000, description="passes over the window per retrain")
        batch_size: int = pydantic.Field(256, ge=1, le=100_000_000, description="training mini-batch size")
        window: int = pydantic.Field(
            1, ge=1, le=100_000_000, description="train on the newest `window` impressions, steps or retrain intervals"
        )
        window_unit: Literal["impressions", "steps", "retrains"] = pydantic.Field(
            "retrains",
            description="unit of `window`; retrains: the impressions logged since the window-th previous retrain",
        )
        position_debias: bool = pydantic.Field(
            True, description="learn the slate position's effect with PAL's position tower; serve at the top position"
        )
        position_lr: float = pydantic.Field(0.5, gt=0, description="learning rate of the position tower")
        # sparse embedding gradients (adagrad, sgd; adam has none): only the looked-up rows get
        # gradients and updates. "auto": sparse once a table starts with >= 32,768 rows, where
        # they are faster and far smaller (100k users: 1.3 GiB peak instead of 2.9 GiB)
        sparse_grad: bool | Literal["auto"] = pydantic.Field(
            "auto", description="sparse embedding gradients (adagrad, sgd); auto: for tables of >= 32768 rows"
        )
        bf16: bool = pydantic.Field(False, description="bf16 autocast for scoring on CUDA (ignored on CPU)")
        # opt-in: compiled code is not bit-identical to eager code, and a closed loop amplifies
        # any difference, so runs with it on are not comparable draw for draw with runs without
        compile: bool = pydantic.Field(
            False,
            description="torch.compile the training loss and use the fused optimiser (eager, with a warning, "
            "if compiling fails); not bit-identical to the default",
        )
        # 8192 keeps a chunk's 64-wide activations (2 MiB) near the cache
        pairs_per_chunk: int = pydantic.Field(
            1 << 13, ge=1, le=1 << 30, description="(user, candidate) pairs scored at once on CPU"
        )

        @pydantic.model_validator(mode="after")
        def _check_widths(self) -> DLRMRecommender.Settings:
            if not self.bottom_mlp or not self.top_mlp or min(self.bottom_mlp + self.top_mlp) < 1:
                raise ValueError("bottom_mlp and top_mlp need positive widths")
            if self.interaction == "dot" and self.bottom_mlp[-1] != self.embedding_dim:
                raise ValueError("bottom_mlp[-1] must equal embedding_dim for the dot interaction")
            if self.top_mlp[-1] != 1:
                raise ValueError("top_mlp must end in 1 (one logit)")
            return self

    @staticmethod
    def check_scenario(scenario: dict) -> tuple[str, str] | None:
        """Load-time check: antidote data trains synthetic users' id embeddings, which a model
        without a user-id table does not have.

        Args:
            scenario: the validated scenario document.

        Returns:
            None, or ("user_id", message) with ``user_id: false`` and an antidote intervention.
        """
        antidote = any(block.get("type") == "antidote" for block in scenario.get("interventions") or [])
        if antidote and not scenario["recommender"].get("user_id", True):
            return "user_id", "expected user_id: true with the antidote intervention (its synthetic users are user ids)"
        return None

    # set by setup(), which the loop calls before anything else
    view: PlatformView
    generator: torch.Generator
    model: DLRM
    trainer: Trainer

    def __init__(self, settings: Settings):
        self.settings = settings
        self.n_users = 0  # real + synthetic
        self.n_real_users = 0
        self._items_seen = 0  # catalog size the tables were last synced to
        self._retrains: list[int] = []  # steps of the latest retrains (the `retrains` window), oldest first

    # ------------------------------------------------------------------ setup and growth
    def setup(self, view: PlatformView, generator: torch.Generator) -> None:
        """Build the model on ``view.device``. The view is kept and read live: the engine must keep
        it current (same object, or assign ``recommender.view``) as steps advance.
        """
        s = self.settings
        self.view, self.generator = view, generator
        self.n_users = self.n_real_users = view.n_users
        rows = {
            "user": view.n_users,
            "item": max(view.items.capacity, view.n_items, 1),
            "topic": _max_id(view.item_topic) + 1,
            "creator": max(1, int((_max_id(view.item_creator) + 1) * GROWTH)),
            "history": max(view.items.capacity, view.n_items, 1),
        }
        self.model = DLRM(
            rows,
            N_USER_DENSE,
            N_ITEM_DENSE,
            s.embedding_dim,
            s.bottom_mlp,
            s.top_mlp,
            s.interaction,
            s.self_interaction,
            share_history=s.history_table == "shared",
            init_scale=s.init_scale,
            dense_features=s.dense_features,
            pooling=s.pooling,
            init=s.init,
            positions=POSITIONS if s.position_debias else 0,
            user_id=s.user_id,
            generator=generator,
            device=view.device,
        )
        sparse = s.sparse_grad if s.sparse_grad != "auto" else max(rows.values()) >= AUTO_SPARSE_ROWS
        self.trainer = Trainer(
            self.model, s.optimizer, s.lr, s.batch_size, sparse, {"position_arch.": s.position_lr}, compile=s.compile
        )
        self._items_seen = view.n_items

    def _ensure_rows(self, table: str, needed: int, generator: torch.Generator | None = None) -> None:
        sa = self.model.sparse_arch
        if table not in sa.embedding_bags or needed <= sa.capacity(table):
            return
        sa.grow(table, max(needed, int(sa.capacity(table) * GROWTH)), generator or self.generator)
        self.trainer.regrow()

    def sync_catalog(self) -> None:
        """Grow item, history, creator and topic tables to cover the current catalog."""
        view = self.view
        m = view.n_items
        if m == self._items_seen:
            return
        new = slice(self._items_seen, m)
        self._ensure_rows("item", m)
        self._ensure_rows("history", m)
        self._ensure_rows("creator", _max_id(view.items.creator[new]) + 1)
        self._ensure_rows("topic", _max_id(view.items.topic[new]) + 1)
        self._items_seen = m

    def add_synthetic_users(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Append n user rows (e.g. antidote users) and return their ids (n,).

        Their impressions reach training only through ``train(..., extra=...)``; they are never
        scored.

        Args:
            n: how many.
            generator: the stream their embedding rows are drawn from (default: the
                recommender's own; an intervention passes its own, so that the real users'
                training draws stay those of a run without it).

        Returns:
            The new ids, (n,) long.
        """
        ids = torch.arange(self.n_users, self.n_users + n, device=self.view.device)
        self.n_users += n
        self._ensure_rows("user", self.n_users, generator)
        return ids

    # ------------------------------------------------------------------ inference
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.settings.bf16 and self.view.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def score(self, users: Tensor, candidates: Tensor) -> Tensor:
        """(A,), (A, C) -> (A, C) logits via the factored forward."""
        self.sync_catalog()
        view = self.view
        if view.n_items <= candidates.numel():  # item side for the whole catalog, no dedup needed
            items, index = torch.arange(view.n_items, device=candidates.device), candidates
        else:
            items, index = torch.unique(candidates, return_inverse=True)
        user_sparse = {"user": users, "history": view.history[users]}
        item_sparse = {"item": items, "topic": view.items.topic[items], "creator": view.items.creator[items]}
        chunk = None if view.device.type == "cuda" else self.settings.pairs_per_chunk
        with self._autocast():
            logits = self.model.factored_forward(
                view.user_dense(users), user_sparse, view.item_dense(items), item_sparse, index, chunk
            )
        return logits.float()

    @torch.no_grad()
    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        """(B,), (B,) -> (B,) engagement probability from the plain forward."""
        self.sync_catalog()
        view = self.view
        sparse = {
            "user": users,
            "item": items,
            "topic": view.items.topic[items],
            "creator": view.items.creator[items],
            "history": view.history[users],
        }
        return torch.sigmoid(self.model(view.dense(users, items), sparse).float())

    def predict_raw(self, users: Tensor, items: Tensor) -> Tensor:
        """The engagement probability (the model's prediction; no clipping): ``predict``."""
        return self.predict(users, items)

    def item_embeddings(self) -> Tensor:
        """(M, d) learned item-id embeddings (for the history-similar candidate source)."""
        self.sync_catalog()
        return self.model.item_embeddings(self.view.n_items)

    # ------------------------------------------------------------------ training
    def training_window(self, log: ImpressionLog, step: int) -> Rows:
        """The logged rows a retrain at ``step`` trains on (before any extra rows)."""
        s = self.settings
        return window_rows(log, step, s.window, s.window_unit, self._retrains)

    def batch_of(self, rows: Rows) -> dict[str, Tensor]:
        """The model batch of ``rows`` (see :mod:`simlab.recommenders.dlrm.trainer`): their logged
        features, the items' topic and creator, and the history groups when the rows share bags.

        Args:
            rows: R rows.

        Returns:
            The batch over the R rows.
        """
        batch = {
            "user": rows.user,
            "item": rows.item,
            "label": rows.label.float(),
            "dense": rows.dense.float(),
            "history": rows.history,
            "position": rows.position,
        }
        # a user's impressions of one step were logged with one history bag: pool it once
        groups = rows.step * (1 << 32) + rows.user
        first, inverse = first_of_groups(groups)
        if torch.equal(batch["history"].index_select(0, first).index_select(0, inverse), batch["history"]):
            batch["history_group"] = groups  # (a hand-built log that breaks this just trains ungrouped)
        # item attributes are static, so look them up rather than log them
        batch["topic"] = self.view.items.topic[batch["item"]]
        batch["creator"] = self.view.items.creator[batch["item"]]
        return batch

    def training_batch(self, log: ImpressionLog, step: int, extra: Rows | None = None) -> dict[str, Tensor]:
        """The batch of a retrain at ``step``: the window's rows, then the ``extra`` rows."""
        rows = Rows.concat(self.training_window(log, step), extra)
        assert rows is not None
        return self.batch_of(rows)

    def train(self, log: ImpressionLog, step: int, extra: Rows | None = None) -> dict[str, float]:
        """``epochs`` passes over the window (and optional synthetic rows); returns {"loss", "samples"}."""
        batch = self._prepare(log, step, extra)
        self._retrains = [*(r for r in self._retrains if r < step), step][-(self.settings.window + 1) :]
        return self.trainer.fit(batch, self.settings.epochs, self.generator)

    def _prepare(self, log: ImpressionLog, step: int, extra: Rows | None) -> dict[str, Tensor]:
        """The batch of a retrain at ``step``, after growing the tables it touches."""
        self.sync_catalog()
        batch = self.training_batch(log, step, extra)
        if extra is not None and len(extra):
            self._ensure_rows("user", int(extra.user.max()) + 1)
        position_arch = self.model.position_arch
        if position_arch is not None and batch["position"].numel():
            needed = int(batch["position"].max()) + 1
            if needed > position_arch.capacity:
                position_arch.grow(max(needed, int(position_arch.capacity * GROWTH)))
                self.trainer.regrow()
        return batch

    # ------------------------------------------------------------------ antidote capability
    def predict_rows(self, rows: Rows) -> Tensor:
        """(R,) engagement probability of ``rows`` from the features logged with them (top position).

        Args:
            rows: R rows (labels are not read).

        Returns:
            (R,) probabilities.
        """
        self.sync_catalog()
        with torch.no_grad():
            dense, sparse = split_batch(self.batch_of(rows), self.model.sparse_features)
            return torch.sigmoid(self.model(dense, sparse).float())

    @contextlib.contextmanager
    def _dense_gradients(self) -> Iterator[None]:
        """Dense embedding gradients within the context (PyTorch differentiates sparse ones only once)."""
        bags = self.model.sparse_arch.embedding_bags
        sparse = {name: bag.sparse for name, bag in bags.items()}
        self.model.sparse_arch.set_sparse_grad(False)
        try:
            yield
        finally:
            for name, bag in bags.items():
                bag.sparse = sparse[name]

    def trial_retrain(
        self, log: ImpressionLog, step: int, extra: Rows | None, horizon: int = 1
    ) -> contextlib.AbstractContextManager[None]:
        """The retrain the loop would run now, on trial (:func:`simlab.recommenders.replay.trial_retrain`)."""
        self.sync_catalog()
        return trial_retrain(self, log, step, extra, horizon)

    def unrolled(
        self, log: ImpressionLog, step: int, extra: Rows, horizon: int = 1, max_steps: int | None = 8
    ) -> Callable[[Rows], Tensor]:
        """A differentiable stand-in for ``train(log, step, extra)``: the real optimiser unrolled.

        The retrain's own mini-batches (the window and ``extra`` shuffled with a copy of the
        generator's state, so in the order the real retrain will see them) are stepped through
        with the trainer's optimiser, learning rates and Adagrad accumulators
        (:func:`~simlab.recommenders.dlrm.trainer.functional_adagrad_steps`; Adam is unrolled as
        SGD), keeping the graph from ``extra.label`` to the parameters. Only the first
        ``max_steps`` mini-batches are unrolled (the rest of the pass, and later retrains of
        the ``horizon``, follow the same direction at a cost that grows with every step).

        Args:
            log: the impression log.
            step: the retrain's step.
            extra: the synthetic rows; ``extra.label`` may require grad.
            horizon: unused beyond the first retrain (see above).
            max_steps: how many mini-batches to unroll (None: the whole first pass).

        Returns:
            predict(rows) -> (R,) engagement probabilities of the unrolled model, differentiable
            with respect to ``extra.label``.
        """
        del horizon
        self.sync_catalog()
        self._ensure_rows("user", int(extra.user.max()) + 1 if len(extra) else 0)
        batch = self.training_batch(log, step, extra)
        n = batch["label"].shape[0]
        shuffle = torch.Generator(device=self.generator.device)
        shuffle.set_state(self.generator.get_state())
        order = torch.randperm(n, generator=shuffle, device=shuffle.device).to(batch["label"].device)
        chunks = order.split(self.settings.batch_size)[:max_steps]
        batches = [{k: v.index_select(0, idx) for k, v in batch.items()} for idx in chunks]
        model, trainer = self.model, self.trainer
        params = {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}
        with self._dense_gradients(), torch.enable_grad():  # the steps need gradients, even under no_grad
            new = functional_adagrad_steps(model, params, trainer.accumulators(), trainer.learning_rates(), batches)

        def predict(rows: Rows) -> Tensor:
            dense, features = split_batch(self.batch_of(rows), model.sparse_features)
            with self._dense_gradients(), model.sparse_arch.differentiable_twice():
                return torch.sigmoid(functional_call(model, new, (dense.float(), features)))

        return predict

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Tensors, ints and dicts only (loads with ``torch.load(weights_only=True)``)."""
        sa = self.model.sparse_arch
        return {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.trainer.state_dict(),
            "rows": {name: sa.capacity(name) for name in sa.embedding_bags},
            "positions": self.model.position_arch.capacity if self.model.position_arch is not None else 0,
            "retrains": torch.tensor(self._retrains, dtype=torch.long),
            "n_users": self.n_users,
            "n_real_users": self.n_real_users,
            "items_seen": self._items_seen,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore into a recommender already ``setup`` with the same settings."""
        sa = self.model.sparse_arch
        for name, rows in state["rows"].items():
            bag = sa.bag(name)
            if bag.weight.shape[0] != rows:  # resize (contents are overwritten below)
                bag.weight = torch.nn.Parameter(bag.weight.new_zeros(rows, bag.weight.shape[1]))
                bag.num_embeddings = rows
        if self.model.position_arch is not None:
            self.model.position_arch.grow(int(state["positions"]))
        self.model.load_state_dict(state["model"])
        self.trainer.load_state_dict(state["optimizer"])
        self.n_users, self.n_real_users = int(state["n_users"]), int(state["n_real_users"])
        self._items_seen = int(state["items_seen"])
        self._retrains = [int(x) for x in state["retrains"].tolist()]


def _max_id(ids: Tensor) -> int:
    return int(ids.max()) if ids.numel() else 0
