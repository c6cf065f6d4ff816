"""Tests of the DLRM model, its trainer and the ``dlrm`` recommender."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import Tensor

from simlab.core.protocols import N_DENSE, N_ITEM_DENSE, N_USER_DENSE, PlatformView
from simlab.core.rows import Rows
from simlab.core.state import Catalog, Graph, ImpressionLog
from simlab.recommenders.dlrm import DLRM, SPARSE_FEATURES, InteractionArch
from simlab.recommenders.dlrm.arches import interaction_width
from simlab.recommenders.dlrm.recommender import DLRMRecommender
from simlab.recommenders.dlrm.trainer import Trainer, bce_loss, functional_loss, functional_sgd_step
from simlab.registry import RECOMMENDERS
from tests.recommenders.test_als import grow

H = 5


def make_view(n_users: int, n_items: int, seed: int = 0, capacity: int | None = None, topics: int = 4) -> PlatformView:
    """A small PlatformView with random observable state (no opinions anywhere)."""
    g = torch.Generator().manual_seed(seed)
    cap = capacity or n_items
    catalog = Catalog(
        stance=torch.zeros(cap, 1),
        topic=torch.randint(0, topics, (cap,), generator=g),
        creator=torch.randint(0, 7, (cap,), generator=g),
        quality=torch.zeros(cap),
        created=torch.randint(0, 3, (cap,), generator=g),
        impressions=torch.randint(0, 50, (cap,), generator=g),
        engagements=torch.randint(0, 10, (cap,), generator=g),
        size=n_items,
    )
    history = torch.randint(0, n_items, (n_users, H), generator=g)
    history[torch.rand(n_users, H, generator=g) < 0.3] = -1
    empty = torch.zeros(0, dtype=torch.long)
    graph = Graph(
        adjacency=torch.zeros(n_users, n_users).to_sparse_csr(),
        src=empty,
        dst=empty,
        weight=torch.zeros(0),
        degree=torch.zeros(n_users),
    )
    return PlatformView(
        n_users=n_users,
        items=catalog.observed(),
        user_impressions=torch.randint(0, 100, (n_users,), generator=g),
        user_engagements=torch.randint(0, 20, (n_users,), generator=g),
        history=history,
        graph=graph,
        device=torch.device("cpu"),
        step=3,
    )


def make_model(
    interaction: str = "dot",
    self_interaction: bool = False,
    shared: bool = False,
    seed: int = 0,
    dense_features="all",
    user_id: bool = True,
    positions: int = 0,
) -> DLRM:
    rows = {"user": 11, "item": 13, "topic": 4, "creator": 7, "history": 13}
    return DLRM(
        rows,
        N_USER_DENSE,
        N_ITEM_DENSE,
        embedding_dim=4,
        bottom_mlp=[6, 4],
        top_mlp=[5, 3, 1],
        interaction=interaction,
        self_interaction=self_interaction,
        share_history=shared,
        init_scale=0.5,
        dense_features=dense_features,
        user_id=user_id,
        positions=positions,
        generator=torch.Generator().manual_seed(seed),
    )


def random_batch(b: int, seed: int = 1) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    history = torch.randint(0, 13, (b, H), generator=g)
    history[torch.rand(b, H, generator=g) < 0.4] = -1
    history[0] = -1  # an empty bag
    return {
        "dense": torch.randn(b, N_DENSE, generator=g),
        "user": torch.randint(0, 11, (b,), generator=g),
        "item": torch.randint(0, 13, (b,), generator=g),
        "topic": torch.randint(0, 4, (b,), generator=g),
        "creator": torch.randint(0, 7, (b,), generator=g),
        "history": history,
        "label": torch.rand(b, generator=g),
    }


def naive_forward(model: DLRM, batch: dict[str, Tensor]) -> Tensor:
    """Reference DLRM forward written with Python loops over samples, tables and feature pairs."""
    sa, inter = model.sparse_arch, model.inter_arch
    bottom = [m for m in model.dense_arch.mlp if isinstance(m, torch.nn.Linear)]
    top = [m for m in model.over_arch.mlp if isinstance(m, torch.nn.Linear)]
    out = []
    for b in range(batch["user"].shape[0]):
        x = batch["dense"][b]
        if model.dense_features == "user":  # the bottom MLP reads the user's half only
            x = x[: model.n_user_dense]
        for layer in bottom:
            x = torch.relu(layer.weight @ x + layer.bias)
        vectors = [x]
        for f in model.sparse_features:
            table = sa.weight(f)
            if f == "history":
                ids = [int(i) for i in batch["history"][b] if i >= 0]
                vectors.append(sum(table[i] for i in ids) / len(ids) if ids else torch.zeros(table.shape[1]))
            else:
                vectors.append(table[int(batch[f][b])])
        if inter.kind == "cat":
            r = torch.cat(vectors)
        else:
            dots = []
            for i in range(len(vectors)):
                for j in range(i + 1 if inter.self_interaction else i):
                    dots.append(torch.dot(vectors[i], vectors[j]))
            r = torch.cat([x, torch.stack(dots)])
        for k, layer in enumerate(top):
            r = layer.weight @ r + layer.bias
            r = torch.relu(r) if k < len(top) - 1 else r
        out.append(r[0])
    return torch.stack(out)


def auc(scores: Tensor, labels: Tensor) -> float:
    """Rank-based AUC (Mann–Whitney U), ties ignored."""
    ranks = torch.empty_like(scores)
    ranks[scores.argsort()] = torch.arange(1, scores.numel() + 1, dtype=scores.dtype)
    pos = labels > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---------------------------------------------------------------------------- model

# every interaction variant, with the dense vector per pair ("all") and per user ("user")
ARCHITECTURES = pytest.mark.parametrize(
    ("interaction", "self_interaction", "shared", "dense_features"),
    [
        ("dot", False, False, "all"),
        ("dot", True, False, "all"),
        ("cat", False, False, "all"),
        ("dot", False, True, "all"),
        ("dot", False, False, "user"),
        ("dot", True, False, "user"),
        ("cat", False, False, "user"),
    ],
)


@ARCHITECTURES
@pytest.mark.parametrize("user_id", [True, False])
def test_forward_matches_naive_reference(
    interaction: str, self_interaction: bool, shared: bool, dense_features: str, user_id: bool
) -> None:
    model = make_model(interaction, self_interaction, shared, dense_features=dense_features, user_id=user_id)
    batch = random_batch(9)
    dense = batch["dense"]
    sparse = {f: batch[f] for f in SPARSE_FEATURES}
    expected = naive_forward(model, batch)
    torch.testing.assert_close(model(dense, sparse), expected, rtol=1e-5, atol=1e-5)
    with model.sparse_arch.differentiable_twice():  # the gather + sum pooling path
        torch.testing.assert_close(model(dense, sparse), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("self_interaction", [False, True])
def test_interaction_gradients_match_finite_differences(self_interaction: bool) -> None:
    """The dot interaction's hand-written backward (one bmm of the symmetrised gradient), and its
    double backward, against finite differences."""
    arch = InteractionArch("dot", 3, 4, self_interaction)
    g = torch.Generator().manual_seed(0)
    dense = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    sparse = torch.randn(5, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(arch, (dense, sparse))
    assert torch.autograd.gradgradcheck(arch, (dense, sparse))


def test_interaction_widths() -> None:
    d, f = 16, 6
    assert interaction_width("dot", f, d) == d + f * (f - 1) // 2 == 31
    assert interaction_width("dot", f, d, self_interaction=True) == d + (f + 1) * f // 2 == 37
    assert interaction_width("cat", f, d) == f * d == 96
    for kind, self_i in [("dot", False), ("dot", True), ("cat", False)]:
        arch = InteractionArch(kind, f - 1, d, self_i)
        out = arch(torch.randn(3, d), torch.randn(3, f - 1, d))
        assert out.shape == (3, interaction_width(kind, f, d, self_i)) == (3, arch.out_features)


@ARCHITECTURES
@pytest.mark.parametrize("user_id", [True, False])
def test_factored_scoring_equals_plain_forward(
    interaction: str, self_interaction: bool, shared: bool, dense_features: str, user_id: bool
) -> None:
    model = make_model(interaction, self_interaction, shared, dense_features=dense_features, user_id=user_id)
    g = torch.Generator().manual_seed(5)
    a, c, m = 6, 7, 13
    users = torch.randint(0, 11, (a,), generator=g)
    history = torch.randint(-1, 13, (a, H), generator=g)
    user_dense = torch.randn(a, N_USER_DENSE, generator=g)
    items = torch.arange(m)
    topic, creator = torch.randint(0, 4, (m,), generator=g), torch.randint(0, 7, (m,), generator=g)
    item_dense = torch.randn(m, N_ITEM_DENSE, generator=g)
    cand = torch.randint(0, m, (a, c), generator=g)
    for chunk in (None, 10):
        fact = model.factored_forward(
            user_dense,
            {"user": users, "history": history},
            item_dense,
            {"item": items, "topic": topic, "creator": creator},
            cand,
            chunk,
        )
        uu = users[:, None].expand(a, c).reshape(-1)
        flat = cand.reshape(-1)
        dense = torch.cat([user_dense[:, None].expand(a, c, -1).reshape(a * c, -1), item_dense[flat]], dim=1)
        sparse = {
            "user": uu,
            "item": flat,
            "topic": topic[flat],
            "creator": creator[flat],
            "history": history[:, None].expand(a, c, H).reshape(a * c, H),
        }
        plain = model(dense, sparse).reshape(a, c)
        torch.testing.assert_close(fact, plain, rtol=1e-5, atol=1e-5)


def test_functional_step_label_gradient_matches_finite_differences() -> None:
    model = make_model().double()
    model.sparse_arch.set_sparse_grad(False)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
    batch = {k: (v.double() if v.is_floating_point() else v) for k, v in random_batch(6, seed=2).items()}
    probe = {k: (v.double() if v.is_floating_point() else v) for k, v in random_batch(8, seed=3).items()}
    labels = batch["label"].clone().requires_grad_(True)

    def after_step(y: Tensor) -> Tensor:
        new = functional_sgd_step(model, params, {**batch, "label": y}, lr=0.5)
        return functional_loss(model, new, probe)

    (grad,) = torch.autograd.grad(after_step(labels), labels)
    assert torch.isfinite(grad).all() and grad.abs().max() > 0
    eps = 1e-6
    for i in range(labels.shape[0]):
        e = torch.zeros_like(labels)
        e[i] = eps
        fd = (after_step(labels.detach() + e) - after_step(labels.detach() - e)) / (2 * eps)
        assert abs(fd.item() - grad[i].item()) < 1e-6


def test_trainer_regrow_keeps_rows_and_optimizer_state() -> None:
    model = make_model()
    trainer = Trainer(model, "adagrad", lr=0.1, batch_size=4, sparse_grad=True)
    trainer.fit(random_batch(16), epochs=1, generator=torch.Generator().manual_seed(0))
    old_w = model.sparse_arch.weight("item").detach().clone()
    old_sum = trainer.optimizer.state[model.sparse_arch.weight("item")]["sum"].clone()
    model.sparse_arch.grow("item", 40, torch.Generator().manual_seed(1))
    trainer.regrow()
    w = model.sparse_arch.weight("item")
    assert w.shape == (40, 4)
    torch.testing.assert_close(w[:13].detach(), old_w)
    state = trainer.optimizer.state[w]["sum"]
    torch.testing.assert_close(state[:13], old_sum)
    assert (state[13:] == 0).all()
    batch = random_batch(16, seed=4)
    batch["item"] = torch.randint(0, 40, (16,))
    out = trainer.fit(batch, epochs=2, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(torch.tensor(out["loss"]))


# ---------------------------------------------------------------------------- recommender


def make_rec(view: PlatformView, seed: int = 0, **settings) -> DLRMRecommender:
    rec = RECOMMENDERS.build(
        {"type": "dlrm", "embedding_dim": 8, "bottom_mlp": [16, 8], "top_mlp": [16, 1], **settings}
    )
    rec.setup(view, torch.Generator().manual_seed(seed))
    return rec


def synthetic_log(
    view: PlatformView, n: int, seed: int = 0, factor_seed: int = 7, step: int = 0
) -> tuple[ImpressionLog, Tensor]:
    """Impressions whose engagement depends on hidden user and item factors only, 1000 per step
    from ``step`` on."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.Generator().manual_seed(factor_seed)
    a = torch.randn(view.n_users, 2, generator=hidden)
    b = torch.randn(view.n_items, 2, generator=hidden)
    users = torch.randint(0, view.n_users, (n,), generator=g)
    items = torch.randint(0, view.n_items, (n,), generator=g)
    p = torch.sigmoid(3 * (a[users] * b[items]).sum(1))
    labels = (torch.rand(n, generator=g) < p).float()
    log = ImpressionLog(n, N_DENSE, H, torch.device("cpu"))
    log.append(
        user=users,
        item=items,
        position=torch.zeros(n, dtype=torch.long),
        label=labels,
        step=step + torch.arange(n) // 1000,
        dense=view.dense(users, items),
        history=view.history[users],
    )
    return log, p


def test_registered_and_settings_validated() -> None:
    assert "dlrm" in RECOMMENDERS
    with pytest.raises(ValueError):
        RECOMMENDERS.build({"type": "dlrm", "embedding_dim": 8, "bottom_mlp": [16, 4]})
    with pytest.raises(ValueError):
        RECOMMENDERS.build({"type": "dlrm", "bogus": 1})
    with pytest.raises(ValueError):
        RECOMMENDERS.build({"type": "dlrm", "dense_features": "item"})


def test_dense_features_user_ignores_item_dense() -> None:
    """With dense_features=user the bottom MLP reads the user's counters only: changing an
    item's popularity counters leaves its scores unchanged."""
    view = make_view(30, 40)
    rec = make_rec(view, dense_features="user")
    assert rec.model.dense_arch.first.in_features == N_USER_DENSE
    users, cand = torch.arange(30), torch.randint(0, 40, (30, 8), generator=torch.Generator().manual_seed(0))
    before = rec.score(users, cand)
    view.items.impressions += 1000
    view.items.engagements += 7
    assert torch.equal(rec.score(users, cand), before)


@pytest.mark.parametrize("dense_features", ["all", "user"])
def test_dlrm_learns_hidden_factor_engagement(dense_features: str) -> None:
    view = make_view(100, 80)
    log, _ = synthetic_log(view, 12_000)
    rec = make_rec(view, epochs=3, batch_size=256, lr=0.1, dense_features=dense_features)
    out = rec.train(log, step=30)
    assert out["samples"] == 12_000
    test_log, _ = synthetic_log(view, 4000, seed=1)
    rows = test_log.rows()
    score = auc(rec.predict(rows.user, rows.item), rows.label)
    assert score >= 0.7, score


@pytest.mark.parametrize("dense_features", ["all", "user"])
def test_score_equals_predict_ranking_and_shapes(dense_features: str) -> None:
    view = make_view(20, 30)
    rec = make_rec(view, dense_features=dense_features)
    users = torch.tensor([0, 3, 7])
    cand = torch.randint(0, 30, (3, 5), generator=torch.Generator().manual_seed(0))
    scores = rec.score(users, cand)
    assert scores.shape == (3, 5)
    probs = rec.predict(users[:, None].expand(3, 5).reshape(-1), cand.reshape(-1)).reshape(3, 5)
    torch.testing.assert_close(torch.sigmoid(scores), probs, rtol=1e-5, atol=1e-6)
    few = cand[:1, :2]  # fewer candidates than items: the unique-items path
    torch.testing.assert_close(rec.score(users[:1], few), scores[:1, :2], rtol=1e-5, atol=1e-6)


def test_checkpoint_round_trip() -> None:
    view = make_view(30, 40)
    log, _ = synthetic_log(view, 3000)
    rec = make_rec(view)
    rec.train(log, step=2)
    rec.add_synthetic_users(3)
    buf = io.BytesIO()
    torch.save(rec.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    other = make_rec(view, seed=99)
    other.load_state_dict(state)
    users, cand = torch.arange(30), torch.randint(0, 40, (30, 6), generator=torch.Generator().manual_seed(0))
    assert torch.equal(rec.score(users, cand), other.score(users, cand))
    # training continues identically from the restored optimizer state
    rec.generator = torch.Generator().manual_seed(0)
    other.generator = torch.Generator().manual_seed(0)
    rec.train(log, step=2)
    other.train(log, step=2)
    assert torch.allclose(rec.score(users, cand), other.score(users, cand), atol=1e-6)


def test_cpu_determinism() -> None:
    view = make_view(30, 40)
    log, _ = synthetic_log(view, 3000)
    runs = []
    for _ in range(2):
        rec = make_rec(view, seed=3)
        rec.train(log, step=2)
        runs.append(rec)
    for (k, v), (_, w) in zip(runs[0].model.state_dict().items(), runs[1].model.state_dict().items()):
        assert torch.equal(v, w), k
    users, cand = torch.arange(5), torch.randint(0, 40, (5, 6), generator=torch.Generator().manual_seed(0))
    assert torch.equal(runs[0].score(users, cand), runs[1].score(users, cand))


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd", "adam"])
def test_tables_grow_with_catalog(optimizer: str) -> None:
    view = make_view(30, 40, capacity=40)
    log, _ = synthetic_log(view, 2000)
    rec = make_rec(view, optimizer=optimizer)
    rec.train(log, step=2)
    old_items = rec.model.sparse_arch.weight("item")[:40].detach().clone()
    old_creators = rec.model.sparse_arch.weight("creator").detach().clone()
    g = torch.Generator().manual_seed(9)
    grow(
        view,
        topic=torch.randint(0, 6, (25,), generator=g),  # two unseen topics
        creator=torch.randint(0, 30, (25,), generator=g),  # unseen creators
        created=torch.full((25,), 3),
        impressions=torch.zeros(25, dtype=torch.long),
        engagements=torch.zeros(25, dtype=torch.long),
    )
    scores = rec.score(torch.arange(4), torch.arange(60, 65).expand(4, 5))
    assert torch.isfinite(scores).all()
    sa = rec.model.sparse_arch
    new_creator, new_topic = view.items.creator[40:65].max(), view.items.topic[40:65].max()
    assert sa.capacity("item") >= 65 and sa.capacity("creator") > new_creator and sa.capacity("topic") > new_topic
    assert torch.equal(sa.weight("item")[:40].detach(), old_items)
    assert torch.equal(sa.weight("creator")[: old_creators.shape[0]].detach(), old_creators)
    assert rec.item_embeddings().shape == (65, 8)
    log2, _ = synthetic_log(view, 2000, seed=3, step=3)
    before = sa.weight("item")[60:65].detach().clone()
    out = rec.train(log2, step=3)
    assert torch.isfinite(torch.tensor(out["loss"]))
    assert not torch.equal(sa.weight("item")[60:65].detach(), before)  # new rows learn


def test_synthetic_users_train_on_extra_rows() -> None:
    view = make_view(20, 30)
    log, _ = synthetic_log(view, 1000)
    rec = make_rec(view)
    ids = rec.add_synthetic_users(4)
    assert ids.tolist() == [20, 21, 22, 23]
    assert rec.model.sparse_arch.capacity("user") >= 24
    before = rec.model.sparse_arch.weight("user")[20:24].detach().clone()
    items = torch.arange(8) % 30
    # shorter bags are padded
    extra = Rows.synthetic(ids.repeat(2), items, torch.linspace(0, 1, 8), step=1, history=2, n_dense=N_DENSE)
    out = rec.train(log, step=1, extra=extra)
    assert out["samples"] == 1008
    assert not torch.equal(rec.model.sparse_arch.weight("user")[20:24].detach(), before)


def test_window_and_empty_log() -> None:
    view = make_view(20, 30)
    rec = make_rec(view, window=5, window_unit="steps")
    empty = ImpressionLog(10, N_DENSE, H, torch.device("cpu"))
    assert "loss" not in rec.train(empty, step=0)  # nothing to learn from is not a divergence
    log, _ = synthetic_log(view, 3000)  # steps 0, 1, 2 (1000 rows each)
    assert rec.train(log, step=6)["samples"] == 1000  # steps 2..6
    rec = make_rec(view, window=1500, window_unit="impressions")
    assert rec.train(log, step=6)["samples"] == 1500


def test_retrains_window_trains_on_each_impression_once() -> None:
    view = make_view(20, 30)
    log, _ = synthetic_log(view, 3000)  # steps 0, 1, 2 (1000 rows each)
    rec = make_rec(view)  # the default: window 1 retrain
    assert rec.train(log, step=0)["samples"] == 3000  # the first retrain: the whole log
    assert rec.train(log, step=1)["samples"] == 2000  # then what was logged after step 0
    assert rec.train(log, step=2)["samples"] == 1000  # after step 1
    assert "loss" not in rec.train(log, step=3)  # nothing new
    two = make_rec(view, window=2)
    two.train(log, step=0)
    two.train(log, step=1)
    assert two.train(log, step=2)["samples"] == 2000  # after the retrain before the last: steps 1, 2
    # the retrain steps are part of the checkpoint
    other = make_rec(view, window=2)
    other.load_state_dict(two.state_dict())
    assert other.train(log, step=3)["samples"] == two.train(log, step=3)["samples"] == 1000


def test_bce_soft_labels() -> None:
    logits = torch.tensor([0.0, 2.0])
    expected = -(0.3 * torch.log(torch.sigmoid(logits)) + 0.7 * torch.log(1 - torch.sigmoid(logits))).mean()
    torch.testing.assert_close(bce_loss(logits, torch.tensor([0.3, 0.3])), expected)


def shared_bag_batch() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """A random batch of 12 rows in 5 groups, the rows of a group sharing one history bag, and the groups."""
    batch = random_batch(12)
    groups = torch.tensor([5, 5, 9, 5, 2, 9, 2, 7, 7, 7, 3, 5])
    first: dict[int, int] = {}
    for row, group in enumerate(groups.tolist()):  # rows of a group share the first row's bag
        batch["history"][row] = batch["history"][first.setdefault(group, row)]
    return batch, groups


def output_and_history_gradient(
    batch: dict[str, torch.Tensor], bag_keys: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fresh make_model()'s output on ``batch`` with the history-bag keys ``bag_keys`` added, and
    the gradient of sum(output^2) with respect to its history table."""
    model = make_model()
    out = model(batch["dense"], {**{f: batch[f] for f in SPARSE_FEATURES}, **bag_keys})
    out.square().sum().backward()
    return out.detach(), model.sparse_arch.weight("history").grad.clone()


def test_grouped_history_bags_equal_per_row_bags() -> None:
    """Pooling each shared history bag once (history_group) changes neither values nor gradients."""
    batch, groups = shared_bag_batch()
    outs, grads = zip(*(output_and_history_gradient(batch, keys) for keys in ({}, {"history_group": groups})))
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(naive_forward(make_model(), batch), outs[1], rtol=1e-5, atol=1e-6)


def test_training_batch_groups_bags_by_user_and_step() -> None:
    view = make_view(20, 30)
    log, _ = synthetic_log(view, 3000)
    rec = make_rec(view)
    batch = rec.training_batch(log, step=2)
    groups = batch["history_group"]
    # one group per (step, user) pair, and its rows agree on the bag
    pairs = {(int(s), int(u)) for s, u in zip(log.rows().step, log.rows().user)}
    assert groups.unique().numel() == len(pairs)
    for g in groups.unique()[:10]:
        rows = batch["history"][groups == g]
        assert (rows == rows[0]).all()
    # a log whose bags differ within one (step, user) pair is trained without grouping
    rows = log.rows()
    rows.history[1] = torch.where(rows.history[1] >= 0, (rows.history[1] + 1) % 30, 0)
    broken = ImpressionLog(3000, N_DENSE, H, torch.device("cpu"))
    broken.append(**rows.columns())
    assert "history_group" not in rec.training_batch(broken, step=2)


def test_grouped_training_equals_ungrouped() -> None:
    view = make_view(20, 30)
    log, _ = synthetic_log(view, 3000)
    recs = [make_rec(view, seed=4) for _ in range(2)]
    batches = [recs[0].training_batch(log, step=2), recs[1].training_batch(log, step=2)]
    del batches[1]["history_group"]
    for rec, batch in zip(recs, batches):
        rec.trainer.fit(batch, epochs=2, generator=torch.Generator().manual_seed(0))
    for (name, a), (_, b) in zip(recs[0].model.state_dict().items(), recs[1].model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


@ARCHITECTURES
def test_factored_scoring_under_bf16_autocast_stays_close(
    interaction: str, self_interaction: bool, shared: bool, dense_features: str
) -> None:
    """The bf16 path (CUDA's ``bf16: true``) mixes bf16 activations with fp32 tables; CPU autocast
    exercises the same dtype handling here, where CI has no GPU."""
    model = make_model(interaction, self_interaction, shared, dense_features=dense_features)
    g = torch.Generator().manual_seed(6)
    a, c, m = 5, 9, 13
    user_sparse = {
        "user": torch.randint(0, 11, (a,), generator=g),
        "history": torch.randint(-1, 13, (a, H), generator=g),
    }
    item_sparse = {
        "item": torch.arange(m),
        "topic": torch.randint(0, 4, (m,), generator=g),
        "creator": torch.randint(0, 7, (m,), generator=g),
    }
    args = (
        torch.randn(a, N_USER_DENSE, generator=g),
        user_sparse,
        torch.randn(m, N_ITEM_DENSE, generator=g),
        item_sparse,
    )
    cand = torch.randint(0, m, (a, c), generator=g)
    with torch.no_grad():
        fp32 = model.factored_forward(*args, cand)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model.factored_forward(*args, cand)
    assert bf16.shape == fp32.shape and bf16.dtype == torch.bfloat16
    torch.testing.assert_close(bf16.float(), fp32, rtol=0.05, atol=0.05 * float(fp32.abs().max()))


def test_sparse_grad_auto_follows_table_size() -> None:
    def sparse(rec: DLRMRecommender) -> bool:
        return rec.model.sparse_arch.embedding_bags["item"].sparse

    small, big = make_view(20, 30), make_view(20, 40_000)  # item tables of 30 and 40,000 rows
    assert not sparse(make_rec(small)) and sparse(make_rec(big))
    assert not sparse(make_rec(big, optimizer="adam"))  # Adam has no sparse update
    assert not sparse(make_rec(big, sparse_grad=False)) and sparse(make_rec(small, sparse_grad=True))
    rec = make_rec(big)
    log, _ = synthetic_log(big, 2000)
    before = rec.model.sparse_arch.weight("item").detach().clone()
    assert math.isfinite(rec.train(log, step=1)["loss"])
    changed = (rec.model.sparse_arch.weight("item").detach() != before).any(dim=1)
    assert changed.sum() <= log.rows().item.unique().numel()  # only looked-up rows move
