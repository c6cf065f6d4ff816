"""The package's layering: the core imports nothing else of simlab, and every module imports on
its own in a fresh interpreter (no import cycles, no registration by import side effects)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "simlab").rglob("*.py")
    if p.name != "__main__.py"  # running it is the CLI
)
CORE = [m for m in MODULES if m.startswith("simlab.core")]

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print(" ".join(sorted(m for m in sys.modules if m.startswith("simlab"))))
"""


def _imports(module: str) -> set[str]:
    """The simlab modules loaded by importing ``module`` alone in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, module], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"import {module} alone failed: {done.stderr.strip().splitlines()[-1:]}"
    return set(done.stdout.split())


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_nothing_else_of_simlab(module):
    outside = {m for m in _imports(module) if m != "simlab" and not m.startswith("simlab.core")}
    assert outside == set()


def test_the_registry_imports_no_component():
    assert _imports("simlab.registry") <= {"simlab", "simlab.registry"}


@pytest.mark.slow  # one interpreter per module: about a minute on 2 cores
@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_alone(module):
    _imports(module)
