"""Pinned inputs: what a run read at its start, so that ``simlab run --resume`` reads the same.

At the start of a run, :func:`record` notes in manifest.json ``inputs``::

    {
      "files": [{"given": "data/pop.csv",            # as written in the scenario
                 "path": "/abs/.../data/pop.csv",    # resolved when the run started
                 "sha256": "...", "bytes": 1234,
                 "keys": ["population.path"]}],      # the settings that name it
      "plugin_path": ["/abs/cwd", "/abs/scenario/folder"],   # where plugin modules were looked up
      "plugins": [{"module": "my_lab", "file": "/abs/.../my_lab.py", "sha256": "..."}]
    }

Every task reads each data file through its recorded absolute path
(:func:`simlab.society.datafiles.pinned_paths`), whatever the current folder of the process
(a Ray worker, a resume started elsewhere). On resume, :func:`check` hashes every recorded file
at its recorded path again and refuses (ScenarioError, exit 2, naming the file) a file that is
missing or changed; :func:`check_plugins` does the same for the plugin modules once the scenario
has imported them. The data files a component reads are the settings it lists in its
``data_files`` class attribute (``population.path`` of ``file``, ``network.path`` of
``edge_list``); a plugin component that reads files declares them the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from simlab import registry
from simlab.config.schema import COMPONENTS
from simlab.core.errors import ScenarioError
from simlab.society.datafiles import DataFileError, content_hash


def data_files(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(setting, path as written) of every data file one task's resolved scenario reads."""
    found = []
    blocks: list[tuple[str, registry.Registry[Any], dict[str, Any]]] = [
        (kind, reg, doc[kind]) for kind, reg in COMPONENTS.items()
    ]
    blocks += [(f"interventions.{i}", registry.INTERVENTIONS, spec) for i, spec in enumerate(doc["interventions"])]
    for where, reg, block in blocks:
        for setting in getattr(reg.get(block["type"]), "data_files", ()):
            value = block.get(setting)
            if isinstance(value, str) and value:
                found.append((f"{where}.{setting}", value))
    return found


def _hashed(path: str, key: str) -> tuple[str, int]:
    try:
        return content_hash(path, "data file")
    except DataFileError as error:
        raise ScenarioError(error.detail, file=error.path, key=key) from None


def record(task_docs: list[dict[str, Any]], plugin_path: list[str], plugins: list[str]) -> dict[str, Any]:
    """The inputs record of a run starting now (see the module docstring); ``task_docs`` are the
    resolved scenarios of its tasks.
    """
    files: dict[str, dict[str, Any]] = {}
    for doc in task_docs:
        for key, given in data_files(doc):
            entry = files.get(given)
            if entry is None:
                path = str(Path(given).resolve())
                digest, size = _hashed(path, key)
                entry = files[given] = {"given": given, "path": path, "sha256": digest, "bytes": size, "keys": []}
            if key not in entry["keys"]:
                entry["keys"].append(key)
    return {"files": list(files.values()), "plugin_path": list(plugin_path), "plugins": _plugin_files(plugins)}


def pinned(inputs: dict[str, Any]) -> dict[str, str]:
    """Each data file as written in the scenario -> its recorded absolute path."""
    return {entry["given"]: entry["path"] for entry in inputs["files"]}


def check(inputs: dict[str, Any]) -> None:
    """Refuse (ScenarioError naming the file) a recorded data file that is missing or whose
    content changed since the run started: resuming on other data would mix two runs.
    """
    for entry in inputs["files"]:
        key = entry["keys"][0] if entry["keys"] else None
        if not Path(entry["path"]).is_file():
            raise ScenarioError(
                f"the run read this data file ({entry['given']}) at its start; it is missing now, "
                "so the run cannot be resumed on the same data (restore it, or start a new run)",
                file=entry["path"],
                key=key,
            )
        digest, _ = _hashed(entry["path"], key or "")
        if digest != entry["sha256"]:
            raise ScenarioError(
                f"this data file changed since the run started (sha256 {digest[:12]}..., recorded "
                f"{entry['sha256'][:12]}...); resuming on other data would mix two runs (restore the file, "
                "or start a new run)",
                file=entry["path"],
                key=key,
            )


def check_tasks(task_docs: list[dict[str, Any]], inputs: dict[str, Any], scenario_file: Path) -> None:
    """Refuse tasks that read a data file the run did not record at its start (scenario.yaml
    was edited).
    """
    recorded = pinned(inputs)
    for doc in task_docs:
        for key, given in data_files(doc):
            if given not in recorded:
                raise ScenarioError(
                    f"names a data file the run did not read at its start ({given}); was scenario.yaml edited?",
                    file=str(scenario_file),
                    key=key,
                )


def check_plugins(inputs: dict[str, Any], manifest_path: Path) -> None:
    """Refuse plugin modules imported from another file or changed since the run started."""
    now = {entry["module"]: entry for entry in _plugin_files([p["module"] for p in inputs["plugins"]])}
    for entry in inputs["plugins"]:
        found = now[entry["module"]]
        if (found["file"], found["sha256"]) != (entry["file"], entry["sha256"]):
            where = found["file"] or "a module without a file"
            raise ScenarioError(
                f"plugin module {entry['module']!r} is now {where}, changed since the run started "
                f"(recorded {entry['file']}); resuming with other code would mix two runs",
                file=str(manifest_path),
                key="inputs.plugins",
            )


def _plugin_files(modules: list[str]) -> list[dict[str, Any]]:
    """Each (already imported) plugin module's file and the sha256 of its content."""
    out = []
    for name in modules:
        file = getattr(sys.modules.get(name), "__file__", None)
        digest = None
        if file is not None:
            try:
                digest, _ = content_hash(file, "plugin module")
            except DataFileError as error:
                raise ScenarioError(error.detail, file=error.path, key="plugins") from None
        out.append({"module": name, "file": file, "sha256": digest})
    return out
