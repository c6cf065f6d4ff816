"""User-facing errors: one clear message, exit code 2, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class ScenarioError(Exception):
    """Invalid user input (scenario file, --set override, run folder).

    The message names the file, the line (when known), the key path, what was expected and
    what was found.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, key: str | None = None):
        self.file, self.line, self.key, self.detail = file, line, key, message
        where = _printable(file or "<scenario>")
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {_printable(key)}"
        super().__init__(f"{where}: {_printable(message)}")


def choices(found: object, allowed: Iterable[str]) -> str:
    """The hint "did you mean 'slate_size'? expected one of [...]" for an unknown name ``found``: the
    closest of ``allowed`` (difflib), then every allowed name.
    """
    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(found), allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}expected one of {allowed}"


def _printable(text: str) -> str:
    """Control characters (a newline in a YAML key, say) escaped: the message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class OutputError(Exception):
    """An output file could not be written (a full disk, no permission, a read-only file system).

    One line naming the file and the reason, exit code 1. The writer left no partial file: the
    previous version of the file, if any, is intact, so the same command can simply be run again
    once the cause is fixed (``simlab plot``, ``simlab report``, ``simlab run --resume``).
    """

    def __init__(self, path: object, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{_printable(self.path)}: cannot write: {_printable(reason)}; no partial file was left")


class SimulationError(RuntimeError):
    """A task stopped because its state became invalid (non-finite opinions or loss)."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: carries the run folder, so the command line can say how to finish it
    (``simlab run --resume RUN_DIR``), and whether tasks kept checkpoints to resume from.
    """

    def __init__(self, run_dir: str | Path, checkpoints: bool):
        super().__init__(str(run_dir))
        self.run_dir, self.checkpoints = Path(run_dir), checkpoints
