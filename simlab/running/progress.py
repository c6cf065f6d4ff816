"""Progress output: worker-side reporters and the parent's display."""

from __future__ import annotations

import contextlib
import queue as queue_module
import time
from collections.abc import Callable
from typing import Any

from simlab.running.tasks import Task


class _QueueReporter:
    """Worker side: forwards progress events to the parent through a queue, step counts
    batched to at most one message per ``interval`` seconds."""

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
    """Parent side: an overall bar over all tasks' steps and one bar per running task."""

    def __init__(self, tasks: list[Task], steps: int, quiet: bool, slots: int):
        from tqdm.auto import tqdm

        self.tqdm, self.steps, self.quiet = tqdm, steps, quiet
        self.overall = tqdm(
            total=len(tasks) * steps, desc="simlab", unit="step", disable=quiet, dynamic_ncols=True, position=0
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
            if self.free and not self.quiet:
                position = self.free.pop(0)
                bar = self.tqdm(
                    total=self.steps,
                    initial=value,
                    desc=f"  {task_id}",
                    unit="step",
                    position=position,
                    leave=False,
                    dynamic_ncols=True,
                )
                self.bars[task_id] = (position, bar)
        elif event == "step":
            self._count(task_id, value)
            if task_id in self.bars:
                self.bars[task_id][1].update(value)

    def _count(self, task_id: str, n: int) -> None:
        n = max(0, min(n, self.steps - self.counted.get(task_id, 0)))
        self.counted[task_id] = self.counted.get(task_id, 0) + n
        self.overall.update(n)

    def drain(self, source: Callable[[], list[tuple[str, str, int]]]) -> None:
        for item in source():
            self.event(*item)

    def finished(self, task_id: str, status: dict[str, Any]) -> None:
        self._count(task_id, self.steps)
        self.finished_ids.add(task_id)
        if task_id in self.bars:
            position, bar = self.bars.pop(task_id)
            bar.close()
            self.free.append(position)
            self.free.sort()
        if status.get("status") != "complete":
            self.failed += 1
            self.overall.set_postfix_str(f"{self.failed} failed")

    def close(self) -> None:
        for _, bar in self.bars.values():
            bar.close()
        self.overall.close()


def _drain_mp(queue: Any) -> Callable[[], list[tuple[str, str, int]]]:
    def source() -> list[tuple[str, str, int]]:
        items = []
        while True:
            try:
                items.append(queue.get_nowait())
            except (queue_module.Empty, OSError, ValueError):
                return items

    return source


