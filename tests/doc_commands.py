"""Shared checks of the commands, YAML and Python that the README and the documentation pages show.

tests/test_readme.py applies them to README.md, tests/test_docs.py to every page under docs/:
each `simlab ...` command parses and its overrides validate, each scenario named validates, each
repository path named exists, and the examples run as written at a tiny size.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import simlab
from simlab.cli import _parser, main
from simlab.config import load_scenario, parse_set

ROOT = Path(__file__).resolve().parents[1]

# what an example's scenario is shrunk to (the shape of the `tiny` fixture)
TINY_OVERRIDES: dict[str, Any] = {
    "replicates": 1,
    "population.size": 60,
    "network.mean_degree": 4,
    "catalog.size": 80,
    "catalog.creators": 10,
    "catalog.new_per_step": 5,
    "recommender.candidates.size": 20,
    "output.snapshot_every": 0,
    "output.figures": False,
    "output.report": False,
}

# a page's YAML block whose first line is this comment is a file the page's commands use
SAVE_AS = re.compile(r"^# save as (\S+)\n")


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in a Markdown text, in order."""
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block as (language, body), in the order the page shows them."""
    return re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S)


def split_commands(line: str) -> list[str]:
    """The `simlab ...` commands of one shell line: split at `&&` and `;`, a comment dropped;
    prose shorthand (`...`, pipes) is left out."""
    commands = []
    for part in re.split(r"&&|;", line.split(" #")[0]):
        part = part.strip()
        if part.startswith("simlab ") and "..." not in part and "|" not in part:
            commands.append(part)
    return commands


def simlab_commands(text: str) -> list[str]:
    """Every `simlab ...` command of a Markdown text: lines of its bash blocks and inline code spans."""
    pieces = [line for block in blocks(text, "bash") for line in block.splitlines()]
    # an inline span that only names a command (`simlab compare`) or sketches its synopsis
    # (`simlab list --settings [NAME]`, `... > FILE`) is prose, not a command to run
    pieces += [
        span for span in re.findall(r"`(simlab [^`]+)`", text) if len(span.split()) > 2 and not set("[>") & set(span)
    ]
    return [command for piece in pieces for command in split_commands(piece)]


def named_scenarios(text: str) -> set[str]:
    """The file names of the shipped scenarios (`scenarios/NAME.yaml`) a text names."""
    return set(re.findall(r"scenarios/([A-Za-z0-9_]+\.yaml)", text))


def missing_paths(text: str) -> list[str]:
    """Repository paths (analysis/, benchmarks/, docs/, scenarios/, simlab/, tests/) a text names
    that do not exist; placeholders such as analysis/X.py and created-on-use folders are skipped."""
    # a path followed by `{` is a brace pattern (docs/x_{a,b}.png), not a path
    paths = set(re.findall(r"\b((?:analysis|benchmarks|docs|scenarios|simlab|tests)/[A-Za-z0-9_./-]*+)(?!\{)", text))
    missing = []
    for path in sorted(paths):
        path = path.rstrip(".,")
        if path.startswith("benchmarks/.venv-trecs") or re.search(r"[A-Z]", Path(path).stem):
            continue  # created on first use; a placeholder such as analysis/X.py
        if not (ROOT / path).exists():
            missing.append(path)
    return missing


def check_command(command: str) -> None:
    """Parse a `simlab ...` command (argparse exits 2 on an unknown flag) and, for `run` on a
    scenario file that exists, load the scenario with the command's overrides (raises
    ScenarioError when they do not validate). Run from the folder the command is written for."""
    args = _parser().parse_args(shlex.split(command)[1:])
    if args.command == "run" and args.scenario and Path(args.scenario).exists():
        flags = {k: getattr(args, k) for k in ("replicates", "seed", "steps", "device")}
        load_scenario(args.scenario, {**parse_set(args.set), **{k: v for k, v in flags.items() if v is not None}})


def tiny(command: str) -> list[str]:
    """The arguments of a `simlab ...` command with the tiny overrides appended where it runs a
    scenario file (`run SCENARIO`, `compare SCENARIO...`); later `--set` values win."""
    argv = shlex.split(command)[1:]
    if argv[0] in ("run", "compare") and any(arg.endswith((".yaml", ".yml")) for arg in argv):
        for key, value in TINY_OVERRIDES.items():
            argv += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
        argv += ["--workers", "1"]  # tiny tasks: a process pool would cost more than it saves
    return argv


def run_page_as_written(text: str, folder: Path, name: str) -> list[str]:
    """Run a tutorial page in ``folder``, block by block in its order: a YAML block that starts
    with `# save as FILE` is written to FILE, every `simlab` command of a bash block runs (at tiny
    size, see :func:`tiny`) and must exit 0, and a Python block is executed. Returns the commands
    run. ``folder`` must be the working directory, with `scenarios/` reachable in it."""
    ran = []
    namespace: dict[str, Any] = {}
    for language, body in fenced_blocks(text):
        if language == "yaml" and SAVE_AS.match(body):
            (folder / SAVE_AS.match(body)[1]).write_text(body, encoding="utf-8")
        elif language == "bash":
            for line in body.splitlines():
                for command in split_commands(line):
                    assert main(tiny(command)) == 0, f"{name}: `{command}` failed"
                    ran.append(command)
        elif language == "python":
            exec(compile(body, name, "exec"), namespace)
    return ran


def run_snippet_tiny(snippet: str, name: str, monkeypatch: Any) -> dict[str, Any]:
    """Execute a Python example whose scenarios load through `simlab.load_scenario`, with every
    scenario shrunk by TINY_OVERRIDES; returns the example's namespace. Run it in a scratch folder."""
    real = simlab.load_scenario

    def tiny_load(source: Any, overrides: dict[str, Any] | None = None) -> Any:
        return real(source, {**TINY_OVERRIDES, **(overrides or {})})

    monkeypatch.setattr(simlab, "load_scenario", tiny_load)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, name, "exec"), namespace)
    return namespace
