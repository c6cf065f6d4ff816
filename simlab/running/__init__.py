"""Running scenarios: tasks, backends, streaming metrics, checkpoints, merging and summaries.

Each (variant or sweep point, replicate) is an independent task with a deterministic seed:
replicate r of every variant uses the same seed (paired comparisons). A task streams its
metric rows to ``tasks/<id>/metrics.csv`` as it goes and, every ``output.checkpoint_every``
steps, writes ``tasks/<id>/checkpoint.pt`` (see :mod:`simlab.running.checkpoint`); when it ends it
writes ``tasks/<id>/status.json``. Nothing holds all runs in memory: the run folder's
metrics.csv, metrics.parquet and summary.csv are merged from the task files at the end, one
task at a time.

Backends: ``local`` runs tasks one after another (``workers=1``) or in a process pool
(``workers=N``, spawn); ``ray`` fans them out over a Ray cluster (``address`` None starts a
local one), a task asking for one GPU when the device is cuda. Every task runs torch with
``SIMLAB_TASK_THREADS`` intra-op threads (default 1), so that the numbers do not depend on
the backend or on how many tasks share the machine: all backends give identical metrics.

Progress: an overall bar (steps of all tasks) plus one bar per running task, on stderr;
``quiet`` silences them. Workers report steps through a queue (a multiprocessing queue for the
pool, a Ray queue actor for Ray). A failing task is recorded (status "failed" with its error,
in status.json and manifest.json) and the others go on; the run's status is then "partial"
(or "failed" when no task completed).
"""

from simlab.running.backends import execute
from simlab.running.files import atomic_write, read_metrics, safe_name
from simlab.running.folder import RunResult, default_run_dir, finish_run, run, run_tasks
from simlab.running.merging import merge_metrics
from simlab.running.tasks import Task, execute_task, make_tasks, read_status, task_dir

__all__ = [
    "RunResult",
    "Task",
    "atomic_write",
    "default_run_dir",
    "execute",
    "execute_task",
    "finish_run",
    "make_tasks",
    "merge_metrics",
    "read_metrics",
    "read_status",
    "run",
    "run_tasks",
    "safe_name",
    "task_dir",
]
