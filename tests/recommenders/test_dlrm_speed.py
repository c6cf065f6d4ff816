"""Tests of the DLRM's speed settings (issue 28): the opt-in compiled training step, its fallback,
and the pooled-once history bags that the compiled step takes as inputs."""

from __future__ import annotations

import warnings

import pytest
import torch

from simlab.recommenders.dlrm.arches import first_of_groups
from simlab.recommenders.dlrm.compiled import CompiledOrEager
from simlab.recommenders.dlrm.recommender import DLRMRecommender
from simlab.recommenders.dlrm.trainer import FlatAdagrad, Trainer, batch_loss
from tests.recommenders.test_dlrm import (
    make_model,
    make_rec,
    make_view,
    output_and_history_gradient,
    random_batch,
    shared_bag_batch,
    synthetic_log,
)


def test_compile_is_off_by_default_and_the_default_update_is_unfused() -> None:
    assert DLRMRecommender.Settings().compile is False
    rec = make_rec(make_view(20, 30))
    assert rec.trainer.loss is batch_loss
    assert not rec.trainer.optimizer.param_groups[0]["fused"]
    assert isinstance(rec.trainer.optimizer, FlatAdagrad)  # the same numbers as torch's Adagrad


def test_compile_setting_uses_the_compiled_loss_and_the_fused_update() -> None:
    rec = make_rec(make_view(20, 30), compile=True)
    assert isinstance(rec.trainer.loss, CompiledOrEager)
    assert rec.trainer.optimizer.param_groups[0]["fused"]
    # with sparse embedding gradients the fused update (dense only) is not used
    sparse = make_rec(make_view(20, 30), compile=True, sparse_grad=True)
    assert not sparse.trainer.optimizer.param_groups[0]["fused"]


def test_precomputed_bags_equal_history_groups_exactly() -> None:
    """history_first/history_inverse (what the compiled step gets) give the same values and gradients."""
    batch, groups = shared_bag_batch()
    first, inverse = first_of_groups(groups)
    forms = ({"history_group": groups}, {"history_first": first, "history_inverse": inverse})
    outs, grads = zip(*(output_and_history_gradient(batch, keys) for keys in forms))
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(grads[0], grads[1])


def failing_compiler(fn, **kwargs):
    def compiled(*args, **kw):
        raise RuntimeError("no C++ compiler")

    return compiled


def test_failed_compilation_falls_back_to_eager_with_one_warning() -> None:
    calls = []

    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    wrapped = CompiledOrEager(double, "doubling", compiler=failing_compiler)
    with pytest.warns(RuntimeWarning, match="torch.compile of doubling failed .*no C\\+\\+ compiler"):
        assert wrapped(3) == 6
    assert not wrapped.active
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        assert wrapped(4) == 8
    assert calls == [3, 4]


def test_unavailable_compiler_falls_back_at_construction() -> None:
    def no_compiler(fn, **kwargs):
        raise RuntimeError("torch.compile is not supported on this platform")

    with pytest.warns(RuntimeWarning, match="not supported"):
        wrapped = CompiledOrEager(lambda x: x + 1, "adding", compiler=no_compiler)
    assert wrapped(1) == 2 and not wrapped.active


def test_an_error_of_the_function_itself_still_surfaces() -> None:
    def broken(x: int) -> int:
        raise ValueError("bad input")

    wrapped = CompiledOrEager(broken, "broken", compiler=failing_compiler)
    with pytest.warns(RuntimeWarning), pytest.raises(ValueError, match="bad input"):
        wrapped(1)


def test_trainer_with_failing_compilation_trains_like_the_fused_eager_trainer(monkeypatch) -> None:
    """The fallback path of compile: eager loss, fused update; equal to a fused eager step."""
    view = make_view(20, 30)
    log, _ = synthetic_log(view, 1000)
    monkeypatch.setattr(torch, "compile", failing_compiler)
    with pytest.warns(RuntimeWarning, match="DLRM training loss"):
        fallen = make_rec(view, seed=3, compile=True)
        batch = fallen.training_batch(log, step=2)
        fallen.trainer.step(batch)
    eager = make_rec(view, seed=3, compile=True)
    eager.trainer.loss = batch_loss  # the eager loss, with the same fused optimiser
    eager.trainer.step(batch)
    for (name, a), (_, b) in zip(fallen.model.named_parameters(), eager.model.named_parameters()):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_compiled_training_step_matches_eager_within_float_tolerance() -> None:
    """One forward/backward and one update with compile on, against the default, from the same
    parameters and mini-batch (history bags grouped): equal within float tolerance."""
    view = make_view(20, 30)
    log, _ = synthetic_log(view, 1000)
    recs = [make_rec(view, seed=3), make_rec(view, seed=3, compile=True)]
    batch = recs[0].training_batch(log, step=2)
    assert "history_group" in batch
    mini = {k: v[:256] for k, v in batch.items()}
    losses, grads = [], []
    for rec in recs:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # compilation must not have fallen back
            losses.append(rec.trainer.step(mini))
        assert rec.trainer.loss is batch_loss or rec.trainer.loss.active
        grads.append({name: p.grad.clone() for name, p in rec.model.named_parameters() if p.grad is not None})
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)
    for (name, a), (_, b) in zip(recs[0].model.named_parameters(), recs[1].model.named_parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)


def test_flat_adagrad_trains_exactly_like_torchs_adagrad() -> None:
    """The default dense-gradient update (FlatAdagrad: parameters, gradients and sums as views of
    flat buffers) gives bit-identical parameters and sums to torch's Adagrad, over
    two learning rates, batches with and without positions (the position tower then gets no
    gradient), table growth and a state round trip between the two implementations."""
    flat_model, torch_model = make_model(positions=3), make_model(positions=3)  # with a PAL tower
    lr_of = {"position_arch.": 0.3, "over_arch.": 0.02}
    flat = Trainer(flat_model, "adagrad", lr=0.1, batch_size=5, lr_of=lr_of)
    reference = Trainer(torch_model, "adagrad", lr=0.1, batch_size=5, lr_of=lr_of)
    assert isinstance(flat.optimizer, FlatAdagrad)

    def torch_adagrad() -> None:  # the reference trainer's update, rebuilt like Trainer._build
        groups = [{"params": g["params"], "lr": g["lr"]} for g in reference.optimizer.param_groups]
        old = {p: reference.optimizer.state[p] for g in groups for p in g["params"]}
        reference.optimizer = torch.optim.Adagrad(groups, lr=0.1)
        reference.optimizer.state.update({p: s for p, s in old.items() if s})

    torch_adagrad()

    def same() -> None:
        for (name, a), b in zip(flat_model.named_parameters(), torch_model.parameters()):
            assert torch.equal(a, b), name
        for a, b in zip(
            flat.optimizer.state_dict()["state"].values(), reference.optimizer.state_dict()["state"].values()
        ):
            assert torch.equal(a["sum"], b["sum"]) and float(a["step"]) >= 1

    for seed in (1, 2):
        batch = random_batch(23, seed=seed)
        batch["position"] = torch.randint(0, 3, (23,), generator=torch.Generator().manual_seed(seed))
        for trainer in (flat, reference):
            trainer.fit(batch, epochs=2, generator=torch.Generator().manual_seed(seed))
        same()
    for trainer in (flat, reference):  # no positions: the tower has no gradient
        trainer.fit(random_batch(12, seed=3), epochs=1, generator=torch.Generator().manual_seed(3))
    same()
    for model, trainer in ((flat_model, flat), (torch_model, reference)):  # the item table grows
        model.sparse_arch.grow("item", 20, torch.Generator().manual_seed(4))
        trainer.regrow()
    torch_adagrad()
    grown = random_batch(23, seed=5)
    grown["item"] = torch.randint(0, 20, (23,), generator=torch.Generator().manual_seed(5))
    grown["position"] = torch.zeros(23, dtype=torch.long)
    for trainer in (flat, reference):
        trainer.fit(grown, epochs=1, generator=torch.Generator().manual_seed(5))
    same()
    # a checkpoint of one implementation continues in the other
    flat_state, reference_state = flat.state_dict(), reference.state_dict()
    flat.load_state_dict(reference_state)
    reference.load_state_dict(flat_state)
    torch_adagrad()
    for trainer in (flat, reference):
        trainer.fit(random_batch(23, seed=6), epochs=1, generator=torch.Generator().manual_seed(6))
    same()
    # a parameter whose data is replaced from outside: the buffers are built again from it
    for model in (flat_model, torch_model):
        weight = model.over_arch.first.weight
        weight.data = weight.detach().clone()
    for trainer in (flat, reference):
        trainer.fit(random_batch(23, seed=7), epochs=1, generator=torch.Generator().manual_seed(7))
    same()
