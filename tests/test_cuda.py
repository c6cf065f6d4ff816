"""The CUDA paths: model, factored scoring, bf16, training, and a whole run on a GPU (every
shipped scenario also runs on CUDA in tests/test_scenarios.py).

These need a CUDA device, so they are skipped where torch sees none (CI has no GPU). On a GPU
machine run them with ``python -m pytest -m cuda`` (``benchmarks/gpu_checks.sh`` does, together
with the GPU benchmarks).
"""

from __future__ import annotations

import copy

import pytest
import torch

import simlab
from simlab.core.protocols import N_DENSE, N_ITEM_DENSE, N_USER_DENSE
from simlab.recommenders.dlrm import DLRM
from simlab.recommenders.dlrm.trainer import Trainer

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available())"),
]

CUDA = torch.device("cuda")
ROWS = {"user": 500, "item": 800, "topic": 8, "creator": 40, "history": 800}


@pytest.fixture(autouse=True)
def exact_fp32_matmuls():
    """TF32 would make CUDA matmuls differ from CPU by ~1e-3; these tests compare in fp32."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32 = before


def make_model(device: torch.device | str) -> DLRM:
    return DLRM(ROWS, N_USER_DENSE, N_ITEM_DENSE, generator=torch.Generator().manual_seed(0), device=device)


def scoring_inputs(a: int = 64, c: int = 50, h: int = 10) -> dict:
    g = torch.Generator().manual_seed(1)
    history = torch.randint(0, 800, (a, h), generator=g)
    history[torch.rand(a, h, generator=g) < 0.3] = -1
    return {
        "user_dense": torch.rand(a, N_USER_DENSE, generator=g),
        "user_sparse": {"user": torch.randint(0, 500, (a,), generator=g), "history": history},
        "item_dense": torch.rand(800, N_ITEM_DENSE, generator=g),
        "item_sparse": {
            "item": torch.arange(800),
            "topic": torch.randint(0, 8, (800,), generator=g),
            "creator": torch.randint(0, 40, (800,), generator=g),
        },
        "candidates": torch.randint(0, 800, (a, c), generator=g),
    }


def to(x, device):
    if isinstance(x, dict):
        return {k: to(v, device) for k, v in x.items()}
    return x.to(device)


def test_model_on_cuda_equals_cpu():
    cpu, gpu = make_model("cpu"), make_model("cpu").to(CUDA)
    inputs = scoring_inputs()
    with torch.no_grad():
        want = cpu.factored_forward(**inputs)
        got = gpu.factored_forward(**to(inputs, CUDA)).cpu()
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_factored_equals_plain_forward_on_cuda():
    model = make_model(CUDA)
    inputs = to(scoring_inputs(), CUDA)
    a, c = inputs["candidates"].shape
    flat = inputs["candidates"].reshape(-1)
    row = torch.arange(a, device=CUDA).repeat_interleave(c)
    dense = torch.cat([inputs["user_dense"][row], inputs["item_dense"][flat]], dim=1)
    sparse = {
        "user": inputs["user_sparse"]["user"][row],
        "history": inputs["user_sparse"]["history"][row],
        "item": inputs["item_sparse"]["item"][flat],
        "topic": inputs["item_sparse"]["topic"][flat],
        "creator": inputs["item_sparse"]["creator"][flat],
    }
    with torch.no_grad():
        plain = model(dense, sparse).reshape(a, c)
        factored = model.factored_forward(**inputs)
    torch.testing.assert_close(factored, plain, rtol=1e-5, atol=1e-5)


def test_bf16_scoring_close_to_fp32_and_keeps_the_ranking():
    model = make_model(CUDA)
    inputs = to(scoring_inputs(a=256, c=200), CUDA)
    with torch.no_grad():
        fp32 = model.factored_forward(**inputs)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            bf16 = model.factored_forward(**inputs).float()
    assert (bf16 - fp32).abs().max() < 0.05 * fp32.abs().max() + 1e-3
    top = 10
    picked = torch.zeros_like(fp32, dtype=torch.bool).scatter_(1, bf16.topk(top).indices, True)
    overlap = picked.gather(1, fp32.topk(top).indices).float().mean()  # share of fp32's top 10 kept
    assert overlap > 0.85  # bf16 keeps 8 mantissa bits: near-ties at the cut may swap, the ranking holds


def test_training_step_on_cuda_matches_cpu():
    g = torch.Generator().manual_seed(2)
    b = 512
    history = torch.randint(0, 800, (b, 10), generator=g)
    batch = {
        "dense": torch.rand(b, N_DENSE, generator=g),
        "user": torch.randint(0, 500, (b,), generator=g),
        "item": torch.randint(0, 800, (b,), generator=g),
        "topic": torch.randint(0, 8, (b,), generator=g),
        "creator": torch.randint(0, 40, (b,), generator=g),
        "history": history,
        "label": (torch.rand(b, generator=g) < 0.3).float(),
    }
    models = {"cpu": make_model("cpu"), "cuda": make_model("cpu").to(CUDA)}
    losses = {}
    for name, model in models.items():
        # SGD: its update is linear in the gradient, so the devices' float-order differences stay
        # ~1e-7 (Adagrad's first step is sign-like and would amplify them on near-zero gradients)
        trainer = Trainer(model, "sgd", lr=0.1, batch_size=b)
        losses[name] = [float(trainer.step(to(batch, name))) for _ in range(3)]
    assert losses["cuda"][-1] < losses["cuda"][0]
    torch.testing.assert_close(torch.tensor(losses["cuda"]), torch.tensor(losses["cpu"]), rtol=1e-4, atol=1e-5)
    for (k, v), (_, w) in zip(models["cpu"].state_dict().items(), models["cuda"].state_dict().items()):
        torch.testing.assert_close(w.cpu(), v, rtol=1e-3, atol=1e-5, msg=k)


def test_dlrm_run_on_cuda_with_bf16_through_the_runner(tmp_path, tiny):
    doc = copy.deepcopy(tiny)
    doc.update(device="cuda", steps=5, replicates=2)
    doc["recommender"] = {"type": "dlrm", "bf16": True, "slate_size": 5, "candidates": {"size": 20}}
    result = simlab.run(simlab.load_scenario(doc), out=tmp_path / "run", quiet=True)
    metrics = result.metrics
    assert len(metrics) == 10 and metrics["ctr"].between(0, 1).all()
    assert metrics["auc_pooled"].notna().any()
