"""User plugins end to end: a scenario names a module (``plugins: [simlab_test_plugins]``) that
sits next to it; its interventions change a run's numbers through YAML alone, in the process
pool and on Ray as in a serial run; a module that fails to import is an exit-2 error naming
the scenario line; the manifest records the interventions and which are privileged."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simlab.cli import main
from simlab.running import run

SCENARIO = Path(__file__).parent / "plugins.yaml"
PLUGIN_TYPES = ["_plugin_topic_spread", "_plugin_synthetic_fans", "_plugin_true_closeness"]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run(SCENARIO, out=tmp_path_factory.mktemp("serial") / "run", quiet=True)


def _final(result):
    metrics = result.metrics
    return metrics[metrics["step"] == metrics["step"].max()].groupby("variant").mean(numeric_only=True)


def test_plugin_interventions_change_the_numbers(serial):
    assert serial.status == "complete"
    final = _final(serial)
    assert set(final.index) == {"plain", "topic_spread", "synthetic_fans", "true_closeness"}
    for variant in ("topic_spread", "synthetic_fans", "true_closeness"):
        changed = (final.loc[variant] - final.loc["plain"]).abs().dropna()
        assert (changed > 1e-9).sum() >= 5, variant  # many metrics move, not one by accident
    # and each in the direction its hook pushes: topic-spread slates cover more topics, fans of
    # the least-shown items widen what the model shows, true closeness shows nearer content
    assert final.loc["topic_spread", "topic_entropy"] > final.loc["plain", "topic_entropy"] + 0.05
    assert final.loc["synthetic_fans", "coverage"] > final.loc["plain", "coverage"] + 0.03  # measured +0.05
    assert final.loc["true_closeness", "exposure_distance_kept"] < 0.8 * final.loc["plain", "exposure_distance_kept"]


def test_plugin_types_pass_the_component_checker(serial):
    from simlab.testing import check_component

    for name in PLUGIN_TYPES:  # registered by the run above, in this process
        check_component("intervention", name)


def test_manifest_records_interventions_and_privilege(serial):
    assert serial.manifest["interventions"] == [
        {"type": "_plugin_topic_spread", "privileged": False, "variants": ["topic_spread"]},
        {"type": "_plugin_synthetic_fans", "privileged": False, "variants": ["synthetic_fans"]},
        {"type": "_plugin_true_closeness", "privileged": True, "variants": ["true_closeness"]},
    ]


def _same(result, reference) -> None:
    assert result.status == "complete", result.manifest["tasks"]
    assert (result.path / "metrics.csv").read_bytes() == (reference.path / "metrics.csv").read_bytes()


def test_plugins_load_in_process_pool_workers(serial, tmp_path):
    _same(run(SCENARIO, out=tmp_path / "pool", workers=2, quiet=True), serial)


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'simlab[ray]')")
def test_plugins_load_in_ray_workers(serial, tmp_path):
    """Ray workers are fresh interpreters that do not share the driver's module search path:
    they find the module through the task's search path (the scenario's folder)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        result = run(SCENARIO, out=tmp_path / "ray", backend="ray", quiet=True)
    finally:
        ray.shutdown()
    _same(result, serial)


@pytest.mark.parametrize(
    ("module", "source", "reason"),
    [
        ("simlab_no_such_plugin", None, "ModuleNotFoundError: No module named 'simlab_no_such_plugin'"),
        ("simlab_broken_plugin", "raise RuntimeError('broken on purpose')\n", "RuntimeError: broken on purpose"),
        # an exit while being imported once ended `simlab validate` with exit 0 and no "ok"
        ("simlab_exiting_plugin", "import sys\nsys.exit(0)\n", "the module called sys.exit(0) while being imported"),
        ("simlab_quitting_plugin", "exit()\n", "the module called sys.exit(None) while being imported"),
    ],
)
def test_a_plugin_that_fails_to_import_is_an_exit_2_error_naming_its_line(
    tmp_path, monkeypatch, capsys, module, source, reason
):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scenario's folder is added to it
    if source is not None:
        (tmp_path / f"{module}.py").write_text(source)
    path = tmp_path / "broken.yaml"
    path.write_text(f"name: broken\nsteps: 2\nplugins:\n  - json\n  - {module}\n")
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == f"error: {path}:5: plugins.1: cannot import plugin module {module!r}: {reason}"
    assert not out.exists()  # rejected before any work started
    assert os._exit.__module__ == "posix"  # the real os._exit is back after the import


def test_a_plugin_that_calls_os_exit_at_import_is_an_error(tmp_path):
    """os._exit skips every handler; during a plugin's import it raises instead. Run in a child
    process: were the guard to fail, the test process itself would end with exit 0."""
    (tmp_path / "simlab_os_exit_plugin.py").write_text(
        "import os\ntry:\n    os._exit(0)\nexcept Exception:\n    pass\n"
    )
    path = tmp_path / "exits.yaml"
    path.write_text("name: exits\nsteps: 2\nplugins: [simlab_os_exit_plugin]\n")
    done = subprocess.run([sys.executable, "-m", "simlab", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"error: {path}:3: plugins.0: cannot import plugin module 'simlab_os_exit_plugin': "
        "the module called os._exit(0) while being imported"
    )
