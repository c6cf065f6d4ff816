"""A sandboxed simlab CLI for hostile-input tests: one long-lived subprocess that imported simlab
once (an import costs seconds; a refusal must cost milliseconds) and runs ``simlab.cli.main``
on each request under an address-space limit of its baseline + 500 MB (``RLIMIT_AS``), a wall
clock limit per request, and reports the exit code, stderr, CPU and wall seconds.

Outcomes: an int exit code, or "memory" (MemoryError, or the process died), "time" (the
request ran past its wall limit: the process is killed and restarted), "exception" (a traceback
escaped main: it is in ``stderr``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MEMORY = 500 << 20

_WORKER = r"""
import contextlib, io, json, os, resource, sys, time, traceback
from simlab.cli import main
from simlab.registry import ALL
[reg.get(name) for reg in ALL.values() for name in reg.names()]  # every built-in type imported
import simlab.running.resources, simlab.running.resume, simlab.loop.simulation  # the run path too

def address_space():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")

hard = resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (address_space() + int(sys.argv[1]), hard))
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    os.chdir(request["cwd"])
    out, err = io.StringIO(), io.StringIO()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(request["argv"])
    except MemoryError:
        code = "memory"
    except SystemExit as exc:  # argparse: exit 2 with usage on stderr
        code = exc.code
    except BaseException:
        code = "exception"
        err.write(traceback.format_exc())
    reply = {"code": code, "stdout": out.getvalue()[-2000:], "stderr": err.getvalue()[-4000:],
             "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
    print(json.dumps(reply), flush=True)
"""


class Sandbox:
    def __init__(self, memory: int = MEMORY):
        self.memory = memory
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (the worker's stderr, for the process's lifetime)
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(self.memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=REPO,
            env=env,
        )
        ready = self._read(proc, timeout=600)  # imports on a loaded 2-core machine
        assert ready == {"ready": True}, f"sandbox did not start: {ready}"
        return proc

    @staticmethod
    def _read(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any] | str:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], timeout)
        if not readable:
            return "time"
        line = proc.stdout.readline()
        return json.loads(line) if line else "memory"  # EOF: the process died (killed at the limit)

    def run(self, argv: list[str], cwd: str | Path, timeout: float = 10.0) -> dict[str, Any]:
        """Run ``simlab ARGV`` in ``cwd``; returns the reply dict (``code`` is the outcome)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd)}) + "\n")
        self.proc.stdin.flush()
        reply = self._read(self.proc, timeout)
        if isinstance(reply, str):  # "time" or "memory": this process is done
            self.close()
            return {"code": reply, "stdout": "", "stderr": "", "cpu": None, "wall": timeout}
        return reply

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def outcome(reply: dict[str, Any]) -> str:
    """ "exit 2" for a clean refusal (exit 2, one "error:" line on stderr, no traceback, within
    the limits), else what went wrong: "time", "memory", or "other" (any other exit, more than
    one line, a traceback)."""
    code, err = reply["code"], reply["stderr"]
    if code in ("time", "memory"):
        return code
    lines = err.strip().splitlines()
    if code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err:
        return "exit 2"
    return "other"
