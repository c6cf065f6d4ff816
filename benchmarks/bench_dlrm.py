"""Speed of simlab's DLRM against a plain re-implementation of the reference architecture.

The reference (``RefDLRM`` below) follows facebookresearch/dlrm's ``DLRM_Net`` (Naumov et al.
2019, arXiv:1906.00091): one ``nn.EmbeddingBag`` per table (sparse gradients), bottom MLP, bmm
interaction with tril indices, top MLP ending in a sigmoid, BCELoss and SGD. Same sizes for both:
tables user 1e6 (1e5 on CPU), item 1e5, topic 64, creator 1e4, a 20-item history bag, d = 16,
bottom 8-64-16, top 31-64-32-1 (31 = 16 + C(6, 2) for F = 6 vectors).

Measured: scoring pairs/s (reference: plain forward over every (user, candidate) pair;
simlab: ``DLRM.factored_forward`` on A users x C candidates), training samples/s, and the
closed loop's user-steps/s on the T-RECS comparison workload of ``bench_vs_trecs.py``.

    python benchmarks/bench_dlrm.py                   # CPU
    python benchmarks/bench_dlrm.py --device cuda     # GPU (adds bf16 factored scoring)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from simlab.recommenders.dlrm import DLRM
from simlab.recommenders.dlrm.trainer import Trainer

sys.path.insert(0, str(Path(__file__).parent))  # bench_vs_trecs (the shared workload)

D, H = 16, 20
SLATE = 10  # impressions per user and step in the closed loop
BOTTOM, TOP = [64, 16], [64, 32, 1]


class RefDLRM(nn.Module):
    """DLRM_Net as in facebookresearch/dlrm (dlrm_s_pytorch.py), with a mean-pooled history bag."""

    def __init__(self, ln_emb: list[int], history_rows: int, device: torch.device):
        super().__init__()
        self.emb_l = nn.ModuleList([nn.EmbeddingBag(n, D, mode="sum", sparse=True) for n in ln_emb])
        self.emb_l.append(nn.EmbeddingBag(history_rows, D, mode="mean", sparse=True))
        self.bot_l = self.create_mlp([8, *BOTTOM], sigmoid_layer=-1)
        n_f = len(self.emb_l) + 1
        li, lj = torch.tril_indices(n_f, n_f, offset=-1)
        self.li, self.lj = li.to(device), lj.to(device)
        self.top_l = self.create_mlp([D + n_f * (n_f - 1) // 2, *TOP], sigmoid_layer=len(TOP) - 1)
        for emb in self.emb_l:
            n = emb.weight.shape[0]
            nn.init.uniform_(emb.weight, -np.sqrt(1 / n), np.sqrt(1 / n))
        self.to(device)

    @staticmethod
    def create_mlp(ln: list[int], sigmoid_layer: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i in range(len(ln) - 1):
            layer = nn.Linear(ln[i], ln[i + 1])
            nn.init.normal_(layer.weight, 0.0, np.sqrt(2 / (ln[i] + ln[i + 1])))
            nn.init.normal_(layer.bias, 0.0, np.sqrt(1 / ln[i + 1]))
            layers += [layer, nn.Sigmoid() if i == sigmoid_layer else nn.ReLU()]
        return nn.Sequential(*layers)

    def forward(self, dense_x: Tensor, offsets: list[Tensor], indices: list[Tensor]) -> Tensor:
        x = self.bot_l(dense_x)
        ly = [emb(i, o) for emb, i, o in zip(self.emb_l, indices, offsets)]
        t = torch.cat([x, *ly], dim=1).view(x.shape[0], -1, D)
        z = torch.bmm(t, t.transpose(1, 2))
        r = torch.cat([x, z[:, self.li, self.lj]], dim=1)
        return self.top_l(r).squeeze(1)


def timed(fns: dict[Any, Callable[[], object]], device: torch.device, rounds: int = 5) -> dict[Any, float]:
    """Seconds per call of each function: the fastest of ``rounds`` calls, interleaved.

    Interleaving and the minimum, because on a shared machine other processes only ever add
    time and may come and go during the run; each contender sees the same conditions."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    best = dict.fromkeys(fns, float("inf"))
    for fn in fns.values():  # warm-up
        fn()
    sync()
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            sync()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def ref_inputs(dense: Tensor, ids: list[Tensor], history: Tensor) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """Per-sample inputs in the reference's (offsets, indices) form; padding -1 dropped from bags."""
    b = dense.shape[0]
    single = torch.arange(b, device=dense.device)
    valid = history >= 0
    counts = valid.sum(1)
    hist_off = torch.cumsum(counts, 0) - counts
    return dense, [single] * len(ids) + [hist_off], [*ids, history[valid]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--users", type=int, default=1000, help="active users A scored at once")
    parser.add_argument("--candidates", type=int, default=1000, help="candidates C per user")
    parser.add_argument(
        "--ref-batch", type=int, default=None, help="reference scoring batch (pairs; default: its fastest of a few)"
    )
    parser.add_argument("--train-batch", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=5, help="timed calls per contender (the best counts)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    cpu = device.type == "cpu"
    n_user, n_item, n_topic, n_creator = (10**5 if cpu else 10**6), 10**5, 64, 10**4
    train_batch = args.train_batch or (4096 if cpu else 1 << 16)
    g = torch.Generator().manual_seed(0)
    print(f"device {device}  threads {torch.get_num_threads()}  torch {torch.__version__}")
    print(f"tables user {n_user:.0e} item {n_item:.0e} topic {n_topic} creator {n_creator:.0e} history bag {H}")

    rows = {"user": n_user, "item": n_item, "topic": n_topic, "creator": n_creator, "history": n_item}
    model = DLRM(rows, 3, 5, D, BOTTOM, TOP, generator=g, device=device)
    ref = RefDLRM([n_user, n_item, n_topic, n_creator], n_item, device)

    # ---------------------------------------------------------------- scoring
    a, c = args.users, args.candidates
    users = torch.randint(0, n_user, (a,), generator=g).to(device)
    history = torch.randint(0, n_item, (a, H), generator=g)
    history[torch.rand(a, H, generator=g) < 0.2] = -1
    history = history.to(device)
    user_dense = torch.rand(a, 3, generator=g).to(device)
    items = torch.arange(n_item, device=device)
    topic = torch.randint(0, n_topic, (n_item,), generator=g).to(device)
    creator = torch.randint(0, n_creator, (n_item,), generator=g).to(device)
    item_dense = torch.rand(n_item, 5, generator=g).to(device)
    cand = torch.randint(0, n_item, (a, c), generator=g).to(device)
    user_sparse, item_sparse = {"user": users, "history": history}, {"item": items, "topic": topic, "creator": creator}

    # per-pair inputs for the plain forwards (prepared outside the timed region)
    flat = cand.reshape(-1)
    pair_user = users[:, None].expand(a, c).reshape(-1)
    pair_row = torch.arange(a, device=device)[:, None].expand(a, c).reshape(-1)
    pair_dense = torch.cat([user_dense[pair_row], item_dense[flat]], dim=1)
    pair_hist = history[pair_row]
    pair_ids = [pair_user, flat, topic[flat], creator[flat]]

    def ref_score(batch: int) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                for s in range(0, a * c, batch):
                    sl = slice(s, s + batch)
                    ref(*ref_inputs(pair_dense[sl], [i[sl] for i in pair_ids], pair_hist[sl]))

        return run

    # the reference at its best batch size (small batches stay in cache on a CPU)
    sizes = (
        [args.ref_batch] if args.ref_batch else ([1 << 12, 1 << 13, 1 << 14, 1 << 16] if cpu else [1 << 18, 1 << 20])
    )
    calibration = timed({size: ref_score(size) for size in sizes}, device, rounds=2)
    ref_batch = min(calibration, key=calibration.get)
    print("reference batch sizes (pairs/s): " + ", ".join(f"{k}: {a * c / v:.2e}" for k, v in calibration.items()))

    def plain_score() -> None:
        with torch.no_grad():
            for s in range(0, a * c, ref_batch):
                sl = slice(s, s + ref_batch)
                sparse = dict(zip(("user", "item", "topic", "creator"), (i[sl] for i in pair_ids)))
                model(pair_dense[sl], {**sparse, "history": pair_hist[sl]})

    chunk = 1 << 13 if cpu else None  # the dlrm recommender's default pairs_per_chunk
    # The reference's 8 dense features per sample, two ways: per pair (the user's 3 counters and
    # the item's 5, simlab's default dense_features="all": the bottom MLP's last layers run per
    # pair) or per user (8 user-side features, dense_features="user": x once per user, per
    # pair only the cross dots and the top MLP). Same sizes as the reference either way.
    user_model = DLRM(rows, 8, 0, D, BOTTOM, TOP, dense_features="user", generator=g, device=device)
    user_dense8 = torch.rand(a, 8, generator=g).to(device)
    no_item_dense = item_dense[:, :0]
    variants = {
        "dense per pair": (model, user_dense, item_dense),
        "dense per user": (user_model, user_dense8, no_item_dense),
    }

    def factored(variant: str, bf16: bool = False) -> Callable[[], None]:
        m, ud, idense = variants[variant]

        def run() -> None:
            ctx = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
            with torch.no_grad(), ctx:
                m.factored_forward(ud, user_sparse, idense, item_sparse, cand, chunk)

        return run

    with torch.no_grad():  # sanity: factored == plain on a slice
        sl = slice(0, 8 * c)
        sparse = dict(zip(("user", "item", "topic", "creator"), (i[sl] for i in pair_ids)))
        sparse["history"] = pair_hist[sl]
        for name, (m, ud, idense) in variants.items():
            head = {k: v[:8] for k, v in user_sparse.items()}
            fact = m.factored_forward(ud[:8], head, idense, item_sparse, cand[:8], chunk)
            dense = torch.cat([ud[pair_row[sl]], idense[flat[sl]]], dim=1)
            plain = m(dense, sparse).reshape(8, c)
            print(f"factored vs plain forward, {name}: max |diff| = {float((fact - plain).abs().max()):.2e}")

    pairs = a * c
    contenders = {"ref": ref_score(ref_batch), "plain": plain_score}
    for name in variants:
        contenders[f"{name} (fp32)"] = factored(name)
        if not cpu:  # bf16 autocast is a CUDA option (on CPU it casts more than it saves)
            contenders[f"{name} (bf16)"] = factored(name, bf16=True)
    t = timed(contenders, device, args.rounds)
    print(f"\nscoring {a} users x {c} candidates = {pairs:.1e} pairs (best of {args.rounds}, interleaved)")
    print(f"  {'reference DLRM_Net plain forward':<46}: {pairs / t['ref']:10.3e} pairs/s  (batches of {ref_batch})")
    print(f"  {'simlab DLRM plain forward':<46}: {pairs / t['plain']:10.3e} pairs/s")
    for name in contenders:
        if name not in ("ref", "plain"):
            label = f"simlab factored scoring, {name}"
            print(f"  {label:<46}: {pairs / t[name]:10.3e} pairs/s   x{t['ref'] / t[name]:.1f} vs reference")

    # ---------------------------------------------------------------- training
    b = train_batch
    n_batches = 8
    tb = {
        "dense": torch.rand(n_batches, b, 8, generator=g).to(device),
        "user": torch.randint(0, n_user, (n_batches, b), generator=g).to(device),
        "item": torch.randint(0, n_item, (n_batches, b), generator=g).to(device),
        "topic": torch.randint(0, n_topic, (n_batches, b), generator=g).to(device),
        "creator": torch.randint(0, n_creator, (n_batches, b), generator=g).to(device),
        # as in the closed loop, a user sees a slate of SLATE items per step, all logged with
        # one history bag: rows come in groups of SLATE sharing user, dense user part and bag
        "history": torch.randint(0, n_item, (n_batches, b // SLATE + 1, H), generator=g)
        .repeat_interleave(SLATE, dim=1)[:, :b]
        .to(device),
        "label": (torch.rand(n_batches, b, generator=g) < 0.3).float().to(device),
    }
    tb["user"] = tb["user"][:, ::SLATE].repeat_interleave(SLATE, dim=1)[:, :b]
    groups = (torch.arange(b, device=device) // SLATE).expand(n_batches, b)
    batches = [{k: v[i] for k, v in tb.items()} for i in range(n_batches)]
    grouped = [{**x, "history_group": groups[i]} for i, x in enumerate(batches)]
    ref_batches = [
        (ref_inputs(x["dense"], [x["user"], x["item"], x["topic"], x["creator"]], x["history"]), x["label"])
        for x in batches
    ]
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    bce = nn.BCELoss()

    def ref_train() -> None:
        for inputs, label in ref_batches:
            ref_opt.zero_grad()
            bce(ref(*inputs), label).backward()
            ref_opt.step()

    contenders = {"ref": ref_train}
    for name, sparse_grad, group in (
        ("sgd", True, False),
        ("sgd", True, True),
        ("sgd", False, False),
        ("adagrad", True, False),
        ("adagrad", False, False),
    ):
        trainer = Trainer(model, name, lr=0.1, batch_size=b, sparse_grad=sparse_grad)

        def simlab_train(trainer: Trainer = trainer, sparse_grad: bool = sparse_grad, group: bool = group) -> None:
            model.sparse_arch.set_sparse_grad(sparse_grad)  # the trainers share one model
            for x in grouped if group else batches:
                trainer.step(x)

        label = f"simlab {name} ({'sparse' if sparse_grad else 'dense'} grads{', bag per group' if group else ''})"
        contenders[label] = simlab_train
    t = timed(contenders, device, args.rounds)
    print(f"\ntraining, batch {b}, {n_batches} batches per call, BCE (best of {args.rounds}, interleaved);")
    print(f"  rows come in groups of {SLATE} (one user's slate in one step); 'bag per group' pools each")
    print("  group's history bag once (history_group, as the dlrm recommender's training batches do)")
    print(f"  {'reference DLRM_Net (SGD, sparse)':<44}: {b * n_batches / t['ref']:12.3e} samples/s")
    for name, sec in t.items():
        if name != "ref":
            print(f"  {name:<44}: {b * n_batches / sec:12.3e} samples/s   x{t['ref'] / sec:.2f} vs reference")

    if not args.skip_loop:
        closed_loop_report(str(device))


TRECS_JSON = Path(__file__).parent / "results" / "trecs_1000x1250x100.json"


def closed_loop_report(device: str, steps: int = 30) -> None:
    """The closed loop of ``bench_vs_trecs.py --recommender dlrm`` (1000 users, 1250 items, every
    user active, the DLRM retrained every step on that step's impressions), stepped in-process
    at 1 torch thread (what the runner gives each task) and at all threads, with the T-RECS
    measurement that script stored on this machine (``--trecs-save``) for the ratio. For the
    same-script ratio over whole runs use ``bench_vs_trecs.py --recommender dlrm``."""
    from simlab.registry import ALL

    [reg.get(name) for reg in ALL.values() for name in reg.names()]  # every built-in type imported
    from bench_vs_trecs import scenario_doc

    import simlab
    from simlab.loop.simulation import Simulation

    trecs = json.loads(TRECS_JSON.read_text())["user_steps_per_s"] if TRECS_JSON.exists() else None
    print(f"\nclosed loop: 1000 users x 1250 items, dlrm retrained every step on its impressions, {device}")
    threads = [1, torch.get_num_threads()] if device == "cpu" else [torch.get_num_threads()]
    for dense_features in ("all", "user"):
        doc = scenario_doc(1000, 1250, steps, "dlrm", device)
        doc["recommender"]["dense_features"] = dense_features
        for n in dict.fromkeys(threads):
            before = torch.get_num_threads()
            torch.set_num_threads(n)
            sim = Simulation(simlab.load_scenario(doc), 0, device=device)
            for _ in range(3):  # warm-up
                sim.step()
            start = time.perf_counter()
            for _ in range(steps - 3):
                sim.step()
            if device == "cuda":
                torch.cuda.synchronize()
            rate = 1000 * (steps - 3) / (time.perf_counter() - start)
            torch.set_num_threads(before)
            ratio = f"   x{rate / trecs:.1f} T-RECS ({trecs:,.0f} user-steps/s, {TRECS_JSON.name})" if trecs else ""
            label = f"dense_features={dense_features}, {n} thread{'s' if n > 1 else ''}"
            print(f"  {label:<32}: {rate:9,.0f} user-steps/s{ratio}")


if __name__ == "__main__":
    main()
