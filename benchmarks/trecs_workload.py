"""T-RECS 0.2.1 reference workload, run inside the T-RECS virtual environment.

This script does not import simlab; it is executed by ``benchmarks/bench_vs_trecs.py`` with
the interpreter of ``benchmarks/.venv-trecs`` (Python 3.11, trecs 0.2.1; see
``benchmarks/README.md`` for the install recipe).

Workload: a T-RECS ``ContentFiltering`` model with ``num_users=U``, ``num_items=I``,
``num_attributes=20`` and ``seed=42``, measuring ``InteractionMeasurement``,
``MSEMeasurement`` and ``InteractionSpread``, run for ``T`` timesteps with retraining
between steps (``train_between_steps=True``).

Usage (inside the venv)::

    benchmarks/.venv-trecs/bin/python benchmarks/trecs_workload.py USERS ITEMS STEPS

It prints one JSON line::

    {"users": U, "items": I, "steps": T, "seconds": ..., "run_seconds": ...,
     "user_steps_per_s": U*T/seconds, "peak_rss_mib": ...}

``seconds`` covers model construction plus the run; ``run_seconds`` covers the run only.
``peak_rss_mib`` is this process's peak resident set size (``ru_maxrss``, KiB on Linux).
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: trecs_workload.py USERS ITEMS STEPS", file=sys.stderr)
        return 2
    users, items, steps = (int(a) for a in argv)

    import trecs
    from trecs.metrics import InteractionMeasurement, InteractionSpread, MSEMeasurement
    from trecs.models import ContentFiltering

    t0 = time.perf_counter()
    model = ContentFiltering(
        num_users=users,
        num_items=items,
        num_attributes=20,
        seed=42,
        measurements=[InteractionMeasurement(), MSEMeasurement(), InteractionSpread()],
    )
    t1 = time.perf_counter()
    model.run(timesteps=steps, train_between_steps=True, disable_tqdm=True)
    t2 = time.perf_counter()

    seconds = t2 - t0
    result = {
        "users": users,
        "items": items,
        "steps": steps,
        "seconds": round(seconds, 3),
        "run_seconds": round(t2 - t1, 3),
        "user_steps_per_s": round(users * steps / seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trecs_version": getattr(trecs, "__version__", "0.2.1"),
        "python": platform.python_version(),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
