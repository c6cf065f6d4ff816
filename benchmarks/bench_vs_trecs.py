"""Throughput and memory of simlab against T-RECS 0.2.1 (Lucherini et al. 2021).

Workload
--------
T-RECS side: ``ContentFiltering(num_users=U, num_items=I, num_attributes=20, seed=42,
measurements=[InteractionMeasurement(), MSEMeasurement(), InteractionSpread()])`` run for
``T`` timesteps with ``train_between_steps=True`` (``benchmarks/trecs_workload.py``).  It runs in
its own virtual environment, ``benchmarks/.venv-trecs`` (T-RECS cannot be installed next to
simlab: it needs pandas<2 and lenskit 0.14), created here on first use.

simlab side: the same population size, catalog size and step count, every user active every
step, the recommender retrained every step (``--recommender``, default ``popularity``; also
``dlrm``), run in-process through ``simlab.load_scenario`` / ``simlab.run``. The DLRM runs at
its learning defaults (each retrain one pass over the impressions logged since the previous
one, in mini-batches of 256; issue 28 sets the target there), and its learned share
(``learned_share``: 0 learned nothing, 1 ranks like the true engagement probabilities; mean
over the second half of the run) is printed beside the speed-up, so that speed is never bought
by not learning. The workload of earlier measurements (one mini-batch of 4,096 per retrain) is
``--set recommender.batch_size=4096``.

Speed is compared as user-steps per second, so a stored T-RECS measurement (``--trecs-json``)
of another step count is compared per step; both sides' times include their construction,
which a shorter simlab run spreads over fewer steps (the comparison then favours T-RECS).

Both sides are timed over construction plus run and reported as user-steps per second
(users x steps / seconds).  Separately, simlab's peak resident memory is measured for
100,000 users x 10,000 items x 20 steps in a subprocess of its own, so that ``ru_maxrss`` is
that run's alone.

Targets: simlab >= 100x T-RECS user-steps/s with the default recommender (>= 30x with
``dlrm``), and <= 2 GiB peak memory at the 100k-user size.

Running
-------
::

    python benchmarks/bench_vs_trecs.py                       # everything, default sizes
    python benchmarks/bench_vs_trecs.py --trecs-steps 10      # shorter T-RECS run
    python benchmarks/bench_vs_trecs.py --trecs-json benchmarks/results/trecs_1000x1250x100.json
    python benchmarks/bench_vs_trecs.py --skip-trecs --recommender dlrm --device cuda
    python benchmarks/bench_vs_trecs.py --simlab-only --users 100000 --items 10000 --steps 20

``--simlab-only`` runs only simlab at ``--users/--items/--steps`` and prints one JSON line; the
memory measurement calls the script that way.  ``--trecs-save FILE`` writes the T-RECS JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-trecs"
WORKLOAD = HERE / "trecs_workload.py"

# Install recipe: benchmarks/README.md, "T-RECS 0.2.1: install recipe" (`pip install trecs` fails on Python 3.11).
TRECS_INSTALL_STEPS: list[list[str]] = [
    ["--no-deps", "trecs==0.2.1"],
    ["numpy", "scipy", "networkx", "pandas", "matplotlib", "tqdm"],
    ["lenskit==0.14.4", "pandas<2"],
]

SPEEDUP_TARGETS: dict[str, float] = {"popularity": 100.0, "dlrm": 30.0}
MEMORY_TARGET_MIB = 2048.0


class SimlabUnavailable(RuntimeError):
    """simlab's engine (``simlab.load_scenario`` / ``simlab.run``) is not there yet."""


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------- T-RECS


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def trecs_importable(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", "import trecs.models, trecs.metrics"], capture_output=True)
    return probe.returncode == 0


def ensure_trecs_venv(venv: Path = VENV) -> Path:
    """Create ``venv`` with T-RECS 0.2.1 unless it already imports; return its interpreter."""
    python = venv_python(venv)
    if trecs_importable(python):
        return python
    if not python.exists():
        cmd = [sys.executable, "-m", "venv", str(venv)]
        print(f"[trecs] creating virtual environment: {' '.join(cmd)}", flush=True)
        subprocess.run(cmd, check=True)
    for packages in TRECS_INSTALL_STEPS:
        cmd = [str(python), "-m", "pip", "install", *packages]
        print(f"[trecs] {' '.join(cmd)}", flush=True)
        subprocess.run(cmd, check=True)
    if not trecs_importable(python):
        raise RuntimeError(f"T-RECS still does not import in {venv}; see the install recipe in benchmarks/README.md")
    print(f"[trecs] ready: {python}", flush=True)
    return python


def run_trecs(python: Path, users: int, items: int, steps: int) -> dict[str, Any]:
    """Run ``trecs_workload.py`` under ``python`` and return its JSON result."""
    return run_json_command([str(python), str(WORKLOAD), str(users), str(items), str(steps)], "trecs")


def run_json_command(cmd: list[str], label: str) -> dict[str, Any]:
    """Run ``cmd``, echo it as ``[label] ...``, and return the last JSON line it printed."""
    print(f"[{label}] {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"{label} run failed with exit status {proc.returncode}: {' '.join(cmd)}")
    return last_json_line(proc.stdout)


def last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in output:\n{text}")


# --------------------------------------------------------------------------------------- simlab


def default_device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


# T-RECS measures interactions per item, prediction MSE and interaction spread each step; the
# matched set records their simlab counterparts (and engagement); "all" records every metric.
MATCHED_METRICS = ["ctr", "engagement", "coverage", "exposure_gini", "logloss"]


def scenario_doc(
    users: int, items: int, steps: int, recommender_type: str, device: str, metrics: str = "matched"
) -> dict[str, Any]:
    # retrained every step; the DLRM at its learning defaults (each impression trained on once)
    recommender: dict[str, Any] = {"type": recommender_type, "retrain_every": 1}
    include = MATCHED_METRICS + (["learned_share"] if recommender_type == "dlrm" else [])
    return {
        "name": "bench",
        "seed": 42,
        "replicates": 1,
        "steps": steps,
        "device": device,
        "population": {"type": "uniform", "size": users, "activity": 1.0},
        "catalog": {"type": "default", "size": items, "new_per_step": 0},
        "recommender": recommender,
        "metrics": {"include": include if metrics == "matched" else "all"},
        "output": {"figures": False, "report": False, "snapshot_every": 0},
    }


def run_simlab(
    users: int,
    items: int,
    steps: int,
    recommender_type: str,
    device: str,
    metrics: str = "matched",
    repeats: int = 1,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run simlab in-process; seconds cover scenario loading, building the society and the run
    (writing the run folder included), but not Python imports, as for T-RECS's ``seconds``.
    ``overrides`` are dotted-key scenario settings (``--set``), e.g. recommender.dense_features."""
    from simlab.registry import ALL

    # every component module (networkx, ...): imports stay outside the timing
    [reg.get(name) for reg in ALL.values() for name in reg.names()]

    import simlab
    import simlab.running  # pandas and scipy, likewise

    missing = [name for name in ("load_scenario", "run") if not hasattr(simlab, name)]
    if missing:
        raise SimlabUnavailable(
            f"simlab has no {' / '.join('simlab.' + m for m in missing)} yet (the engine is still being "
            "written); the simlab half of this benchmark cannot run"
        )

    doc = scenario_doc(users, items, steps, recommender_type, device, metrics)
    runs = []
    for _ in range(repeats):  # a whole fresh run each time (new scenario, society, run folder)
        with tempfile.TemporaryDirectory(prefix="bench_vs_trecs_") as out:
            t0 = time.perf_counter()
            scenario = simlab.load_scenario(doc, overrides)
            ran = simlab.run(scenario, out=out, quiet=True)
            runs.append(time.perf_counter() - t0)
            metrics = ran.metrics  # read before the run folder goes; the same in every repeat (same seed)
    seconds = statistics.median(runs)
    learned = None
    if "learned_share" in metrics:
        second_half = metrics[metrics["step"] >= metrics["step"].max() / 2]
        learned = round(float(second_half["learned_share"].mean()), 4)

    result: dict[str, Any] = {
        "users": users,
        "items": items,
        "steps": steps,
        "recommender": recommender_type,
        "device": device,
        **({"overrides": overrides} if overrides else {}),
        "seconds": round(seconds, 3),
        "runs_seconds": [round(r, 3) for r in runs],
        "user_steps_per_s": round(users * steps / seconds, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        **({"learned_share": learned} if learned is not None else {}),
    }
    if device.startswith("cuda"):
        import torch

        result["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def simlab_memory_subprocess(
    users: int, items: int, steps: int, recommender_type: str, device: str, sets: list[str] | None = None
) -> dict[str, Any]:
    """Run ``--simlab-only`` in a fresh interpreter so its ``ru_maxrss`` is that run's own."""
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--simlab-only",
        "--users", str(users), "--items", str(items), "--steps", str(steps),
        "--recommender", recommender_type, "--device", device, "--metrics", "all",
    ]  # fmt: skip
    for item in sets or []:
        cmd += ["--set", item]
    return run_json_command(cmd, "simlab")


# --------------------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(
    trecs: dict[str, Any] | None,
    simlab_speed: dict[str, Any] | None,
    simlab_memory: dict[str, Any] | None,
    recommender_type: str,
) -> None:
    trecs_rate = trecs["user_steps_per_s"] if trecs else None
    simlab_rate = simlab_speed["user_steps_per_s"] if simlab_speed else None
    ratio = simlab_rate / trecs_rate if trecs_rate and simlab_rate else None
    target = SPEEDUP_TARGETS.get(recommender_type)
    memory = simlab_memory["peak_rss_mib"] if simlab_memory else None

    def verdict(ok: bool | None) -> str:
        return "" if ok is None else ("PASS" if ok else "FAIL")

    rows = [
        ("T-RECS user-steps/s", fmt(trecs_rate), "", ""),
        (f"simlab user-steps/s ({recommender_type})", fmt(simlab_rate), "", ""),
        (
            "speed-up (simlab / T-RECS)",
            fmt(ratio, ",.1f") + ("x" if ratio else ""),
            f">= {target:g}x" if target else "-",
            verdict(None if ratio is None or target is None else ratio >= target),
        ),
        (
            "learned share (second half of the run)",
            fmt(simlab_speed.get("learned_share") if simlab_speed else None, ".3f"),
            "> 0",
            "",
        ),
        (
            "simlab peak RSS, 100k users (MiB)",
            fmt(memory, ",.0f"),
            f"<= {MEMORY_TARGET_MIB:,.0f}",
            verdict(None if memory is None else memory <= MEMORY_TARGET_MIB),
        ),
    ]
    if trecs:
        print(
            f"\nT-RECS: {trecs['users']} users x {trecs['items']} items x {trecs['steps']} steps, "
            f"{trecs['seconds']} s, peak {trecs['peak_rss_mib']} MiB"
        )
    if simlab_speed:
        print(
            f"simlab: {simlab_speed['users']} users x {simlab_speed['items']} items x {simlab_speed['steps']} steps "
            f"on {simlab_speed['device']}, {simlab_speed['seconds']} s"
        )
    if simlab_memory:
        print(
            f"simlab memory run: {simlab_memory['users']} users x {simlab_memory['items']} items x "
            f"{simlab_memory['steps']} steps, peak RSS {simlab_memory['peak_rss_mib']} MiB"
            + (f", peak GPU {simlab_memory['peak_gpu_mib']} MiB" if "peak_gpu_mib" in simlab_memory else "")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("metric", "value", "target", "")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    print()
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())


# --------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=1000, help="population size for both sides (default 1000)")
    p.add_argument("--items", type=int, default=1250, help="catalog size for both sides (default 1250)")
    p.add_argument("--steps", type=int, default=100, help="simlab steps (default 100)")
    p.add_argument(
        "--trecs-steps", type=int, default=None, help="T-RECS steps (default: --steps); shorten for a quick run"
    )
    p.add_argument("--recommender", default="popularity", help="simlab recommender type: popularity (default) or dlrm")
    p.add_argument("--device", default=None, help="simlab device (default: cuda if available, else cpu)")
    p.add_argument(
        "--trecs-python",
        type=Path,
        default=None,
        help="interpreter with trecs 0.2.1 (default: benchmarks/.venv-trecs, created if missing)",
    )
    p.add_argument(
        "--trecs-json", type=Path, default=None, help="reuse a previous T-RECS measurement instead of running it"
    )
    p.add_argument("--trecs-save", type=Path, default=None, help="write the T-RECS measurement to this JSON file")
    p.add_argument("--skip-trecs", action="store_true", help="do not run or load T-RECS")
    p.add_argument("--repeats", type=int, default=3, help="simlab runs to take the median of (default 3)")
    p.add_argument(
        "--metrics",
        choices=["matched", "all"],
        default="matched",
        help="simlab metrics per step: those matching T-RECS's three measurements (default) or all 24",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="simlab scenario override (repeatable), e.g. --set recommender.dense_features=user",
    )
    p.add_argument("--skip-memory", action="store_true", help="skip the 100k-user simlab memory run")
    p.add_argument("--mem-users", type=int, default=100_000)
    p.add_argument("--mem-items", type=int, default=10_000)
    p.add_argument("--mem-steps", type=int, default=20)
    p.add_argument("--simlab-only", action="store_true", help="run simlab only at --users/--items/--steps; print JSON")
    return p.parse_args(argv)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> {dotted key: YAML-parsed value}."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = args.device or default_device()
    overrides = parse_sets(args.set)

    if args.simlab_only:
        try:
            print(
                json.dumps(
                    run_simlab(args.users, args.items, args.steps, args.recommender, device, args.metrics, 1, overrides)
                )
            )
        except SimlabUnavailable as exc:
            print(f"[simlab] {exc}", file=sys.stderr)
            return 3
        return 0

    trecs: dict[str, Any] | None = None
    if args.trecs_json is not None:
        trecs = json.loads(args.trecs_json.read_text())
        print(f"[trecs] reusing {args.trecs_json}: {json.dumps(trecs)}")
    elif not args.skip_trecs:
        python = args.trecs_python or ensure_trecs_venv()
        trecs = run_trecs(python, args.users, args.items, args.trecs_steps or args.steps)
        print(f"[trecs] {json.dumps(trecs)}")
    if trecs is not None and args.trecs_save is not None:
        args.trecs_save.parent.mkdir(parents=True, exist_ok=True)
        args.trecs_save.write_text(json.dumps(trecs, indent=2) + "\n")
        print(f"[trecs] saved {args.trecs_save}")
    if trecs is not None and (trecs["users"], trecs["items"]) != (args.users, args.items):
        print(
            f"[warn] T-RECS measured {trecs['users']} users x {trecs['items']} items; "
            f"simlab runs {args.users} x {args.items}",
            file=sys.stderr,
        )

    if trecs is not None and trecs["steps"] != args.steps:
        print(
            f"[note] T-RECS ran {trecs['steps']} steps, simlab runs {args.steps}: compared per user-step",
            file=sys.stderr,
        )
    simlab_speed: dict[str, Any] | None = None
    simlab_memory: dict[str, Any] | None = None
    try:
        print(f"[simlab] {args.users} users x {args.items} items x {args.steps} steps, {args.recommender} on {device}")
        simlab_speed = run_simlab(
            args.users, args.items, args.steps, args.recommender, device, args.metrics, args.repeats, overrides
        )
        print(f"[simlab] {json.dumps(simlab_speed)}")
        if not args.skip_memory:
            simlab_memory = simlab_memory_subprocess(
                args.mem_users, args.mem_items, args.mem_steps, args.recommender, device, args.set
            )
            print(f"[simlab] {json.dumps(simlab_memory)}")
    except SimlabUnavailable as exc:
        print(f"[simlab] {exc}", file=sys.stderr)
    except Exception:  # the engine is young: report its failure but still print the T-RECS side
        traceback.print_exc()
        print("[simlab] the simlab run failed (traceback above); simlab columns left empty", file=sys.stderr)

    print_table(trecs, simlab_speed, simlab_memory, args.recommender)
    return 0


if __name__ == "__main__":
    sys.exit(main())
