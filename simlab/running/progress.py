"""Progress output: worker-side reporters and the parent's display."""

from __future__ import annotations

import contextlib
import queue as queue_module
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from simlab.running.tasks import Task


class _QueueReporter:
    """Worker side: forwards progress events to the parent through a queue, step counts
    batched to at most one message per ``interval`` seconds.
    """

    def __init__(self, queue: Any, interval: float = 0.1):
        self.queue, self.interval = queue, interval
        self.pending: dict[str, int] = {}
        self.last = 0.0

    def __call__(self, event: str, task_id: str, value: int) -> None:
        if event == "step":
            self.pending[task_id] = self.pending.get(task_id, 0) + value
            if time.monotonic() - self.last < self.interval:
                return
        self.flush()
        if event != "step":
            self._put((event, task_id, value))

    def flush(self) -> None:
        for task_id, n in self.pending.items():
            self._put(("step", task_id, n))
        self.pending.clear()
        self.last = time.monotonic()

    def _put(self, item: tuple[str, str, int]) -> None:
        with contextlib.suppress(Exception):  # progress is best effort; never fail a task for it
            self.queue.put_nowait(item)


class _Display:
    """Parent side: progress over all tasks' steps.

    On a terminal: an overall tqdm bar and one bar per running task. Otherwise (stderr sent to
    a file or a pipe, where tqdm's cursor escapes would garble the log) one plain line, e.g.
    ``simlab: 120/600 steps (20%), 3/10 tasks done, 2 failed, 41 s``, at most every
    ``interval`` seconds and once at the end.
    """

    def __init__(
        self,
        tasks: list[Task],
        steps: int,
        quiet: bool,
        slots: int,
        stream: TextIO | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.steps, self.quiet, self.n_tasks = steps, quiet, len(tasks)
        self.stream = sys.stderr if stream is None else stream  # read now: tests swap sys.stderr
        self.interval, self.clock = interval, clock
        self.started = self.printed_at = clock()
        self.last_line: str | None = None
        self.terminal = _is_terminal(self.stream)
        self.overall: Any = None
        if self.terminal:
            from tqdm.auto import tqdm

            self.tqdm = tqdm
            self.overall = tqdm(
                total=len(tasks) * steps,
                desc="simlab",
                unit="step",
                disable=quiet,
                dynamic_ncols=True,
                position=0,
                file=self.stream,
            )
        self.free = list(range(1, slots + 1))
        self.bars: dict[str, tuple[int, Any]] = {}
        self.counted: dict[str, int] = {}
        self.finished_ids: set[str] = set()
        self.failed = 0

    def event(self, event: str, task_id: str, value: int) -> None:
        if task_id in self.finished_ids:
            return
        if event == "start":
            self._count(task_id, value - self.counted.get(task_id, 0))
            if self.terminal and self.free and not self.quiet:
                position = self.free.pop(0)
                bar = self.tqdm(
                    total=self.steps,
                    initial=value,
                    desc=f"  {task_id}",
                    unit="step",
                    position=position,
                    leave=False,
                    dynamic_ncols=True,
                    file=self.stream,
                )
                self.bars[task_id] = (position, bar)
        elif event == "step":
            self._count(task_id, value)
            if task_id in self.bars:
                self.bars[task_id][1].update(value)

    def _count(self, task_id: str, n: int) -> None:
        n = max(0, min(n, self.steps - self.counted.get(task_id, 0)))
        self.counted[task_id] = self.counted.get(task_id, 0) + n
        if self.overall is not None:
            self.overall.update(n)
        elif self.clock() - self.printed_at >= self.interval:
            self._print_line()

    def line(self) -> str:
        """The plain progress line (non-terminal output)."""
        done_steps, total = sum(self.counted.values()), self.n_tasks * self.steps
        percent = 100 * done_steps // total if total else 100
        text = f"simlab: {done_steps}/{total} steps ({percent}%), {len(self.finished_ids)}/{self.n_tasks} tasks done"
        if self.failed:
            text += f", {self.failed} failed"
        return text + f", {self.clock() - self.started:.0f} s"

    def _print_line(self) -> None:
        self.printed_at = self.clock()
        if self.quiet:
            return
        self.last_line = self.line()
        print(self.last_line, file=self.stream, flush=True)

    def drain(self, source: Callable[[], list[tuple[str, str, int]]]) -> None:
        for item in source():
            self.event(*item)

    def finished(self, task_id: str, status: dict[str, Any]) -> None:
        if status.get("status") != "complete":
            self.failed += 1
            if self.overall is not None:
                self.overall.set_postfix_str(f"{self.failed} failed")
        self.finished_ids.add(task_id)
        if task_id in self.bars:
            position, bar = self.bars.pop(task_id)
            bar.close()
            self.free.append(position)
            self.free.sort()
        self._count(task_id, self.steps)  # the steps it had left (all of them for a skipped task)

    def close(self) -> None:
        for _, bar in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()
        elif self.last_line is None or self.last_line != self.line():
            self._print_line()  # the final state, unless the last line already said it


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _drain_mp(queue: Any) -> Callable[[], list[tuple[str, str, int]]]:
    def source() -> list[tuple[str, str, int]]:
        items = []
        while True:
            try:
                items.append(queue.get_nowait())
            except (queue_module.Empty, OSError, ValueError):
                return items

    return source
