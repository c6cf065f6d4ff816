"""A long fuzz session over the hostile families: ``python -m tests.config.fuzz_session 500``
draws that many documents and prints the outcome counts (exit 2 / other / time / memory)
instead of stopping at the first failure; the failing cases are written to fuzz_failures.txt."""

from __future__ import annotations

import collections
import sys

from hypothesis import HealthCheck, given, settings

from tests.config.sandbox import Sandbox, outcome
from tests.config.test_fuzz_hostile import FAMILIES, attempt


def _session(family: str, strategy, box: Sandbox, examples: int, counts: collections.Counter, failures: list):
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(case: dict) -> None:
        reply = attempt(box, case)
        result = outcome(reply)
        if result == "exit 2" and (reply["wall"] >= 10 or reply["ran"]):
            result = "time" if reply["wall"] >= 10 else "other"
        counts[result] += 1
        counts[(family, result)] += 1
        if result != "exit 2":
            failures.append(f"{family} {result}: {case.get('set')} {case['text'][:300]!r} -> {reply}")

    return one


def main(examples: int) -> None:
    box, counts, failures = Sandbox(), collections.Counter(), []
    per_family = max(1, examples // len(FAMILIES))
    for family, strategy in FAMILIES.items():
        _session(family, strategy, box, per_family, counts, failures)()
    box.close()
    total = sum(v for k, v in counts.items() if isinstance(k, str))
    print(f"{total} documents: " + ", ".join(f"{k} {counts[k]}" for k in ("exit 2", "other", "time", "memory")))
    for family in FAMILIES:
        print(f"  {family}: " + ", ".join(f"{k} {counts[(family, k)]}" for k in ("exit 2", "other", "time", "memory")))
    with open("fuzz_failures.txt", "w") as fh:
        fh.write("\n".join(failures))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
