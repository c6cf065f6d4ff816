"""Progress output: tqdm bars on a terminal, plain periodic lines anywhere else."""

from __future__ import annotations

import io

import simlab
from simlab.running.progress import _Display


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _display(stream: io.StringIO, clock: _Clock, tasks: int = 4, steps: int = 10, quiet: bool = False) -> _Display:
    return _Display([None] * tasks, steps, quiet, slots=2, stream=stream, interval=10.0, clock=clock)  # type: ignore[list-item]


def test_plain_lines_at_most_every_interval_and_at_the_end():
    stream, clock = io.StringIO(), _Clock()
    display = _display(stream, clock)
    display.event("start", "a", 0)
    for _ in range(5):  # 5 steps within 4 s: no line yet
        clock.now += 0.8
        display.event("step", "a", 1)
    assert stream.getvalue() == ""
    clock.now = 10.0
    display.event("step", "a", 1)  # 6 of 40 steps
    clock.now = 12.0
    display.event("step", "a", 1)  # too soon for another line
    display.finished("a", {"status": "complete"})  # a's last 3 steps
    display.finished("b", {"status": "failed"})  # b never ran: its 10 steps count as done
    clock.now = 21.0
    display.event("step", "c", 2)
    display.close()  # the last line already says where things stand: no repeat
    assert stream.getvalue().splitlines() == [
        "simlab: 6/40 steps (15%), 0/4 tasks done, 10 s",
        "simlab: 22/40 steps (55%), 2/4 tasks done, 1 failed, 21 s",
    ]
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()


def test_close_prints_the_final_state_once():
    stream, clock = io.StringIO(), _Clock()
    display = _display(stream, clock, tasks=1, steps=3)
    display.event("start", "a", 0)
    display.event("step", "a", 3)
    clock.now = 2.0
    display.finished("a", {"status": "complete"})
    display.close()
    assert stream.getvalue() == "simlab: 3/3 steps (100%), 1/1 tasks done, 2 s\n"


def test_quiet_prints_nothing():
    stream, clock = io.StringIO(), _Clock()
    display = _display(stream, clock, quiet=True)
    display.event("start", "a", 0)
    clock.now = 30.0
    display.event("step", "a", 5)
    display.close()
    assert stream.getvalue() == ""


def test_a_terminal_gets_tqdm_bars():
    stream = _Terminal()
    display = _display(stream, _Clock(), tasks=1, steps=4)
    display.event("start", "a", 0)
    display.event("step", "a", 4)
    display.finished("a", {"status": "complete"})
    display.close()
    text = stream.getvalue()
    assert "\r" in text and "4/4" in text and "steps (" not in text


def test_a_run_with_stderr_captured_prints_plain_lines(tiny, tmp_path, capsys):
    simlab.run(tiny, out=tmp_path / "run")
    err = capsys.readouterr().err
    assert "\x1b[" not in err and "\r" not in err
    assert err.splitlines()[-1].startswith("simlab: 8/8 steps (100%), 2/2 tasks done, ")
