"""Files of the run folder: how simlab writes, reads and locks them (docs/design.md §4.9).

A run folder may have been handed over by someone else, damaged, or planted with links, so:

- every file simlab writes there is written whole or not at all (:func:`atomic_write`,
  :func:`atomic_file`): a new temporary file in the same folder, created exclusively (never
  through an existing link), fsync'ed, then renamed over the name with ``os.replace``, which
  replaces whatever was there (a link included) instead of writing through it. On an OS error (a
  full disk) the temporary file is removed and :class:`~simlab.core.errors.OutputError` says which
  file could not be written; the old file, if any, is intact;
- folders inside the run folder are made by :func:`ensure_folder`, which refuses a link or a file
  where a folder should be;
- a task's outputs are read during a merge through :func:`open_inside`: no link is followed at
  any level below the run folder and only a plain file with a single name is accepted (a hard
  link could be a file outside the folder);
- :func:`refuse_links` refuses, before a resume, plot or report starts, a run folder that holds a
  symbolic link anywhere;
- :func:`locked` holds an OS lock (``fcntl.flock``) on the run folder while one command writes
  it, so that a second writer is refused instead of interleaving its writes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from simlab.core.errors import OutputError, ScenarioError

# the metrics.csv reader belongs to the results layer; it is re-exported here for the run's own readers
from simlab.results.metrics_file import read_header as read_header
from simlab.results.metrics_file import read_metrics as read_metrics

LOCK_FILE = ".simlab.lock"
# the names of temporary files: ".<name>.tmp<random>" (atomic_file; older versions wrote
# ".<name>.tmp<pid>" and ".<stem>.tmp<pid>.npz"); a kill between the write and the rename leaves one
TEMPORARY = re.compile(r"^\..+\.tmp[A-Za-z0-9_]+(\.npz)?$")
_NO_LINK_HINT = "simlab never writes or reads through links in a run folder; remove the link"


def _umask() -> int:
    """The process umask (read by setting and restoring it; there is no other portable getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp's files are 0600)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file whose content replaces ``path`` when the block ends without an error.

    The file is a new temporary file beside ``path`` (``tempfile.mkstemp``: created exclusively,
    so never through a link); at the end it is fsync'ed and renamed over ``path``. On an OS error
    it is removed and OutputError is raised (``path`` keeps its old content); on any other error it
    is removed and the error goes on.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(path, _reason(exc)) from None
    handle = os.fdopen(fd, "wb")
    done = False
    try:
        try:
            yield handle
        except OSError as exc:
            if exc.filename is not None:  # another file (a source being read): its own error
                raise
            raise OutputError(path, _reason(exc)) from None  # a write to this file failed
        try:
            handle.flush()
            os.fchmod(handle.fileno(), _FILE_MODE)
            os.fsync(handle.fileno())
            handle.close()
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(path, _reason(exc)) from None
        done = True
    finally:
        if not done:
            with contextlib.suppress(OSError):
                handle.close()
            _discard(tmp)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def atomic_write(path: Path, data: str | bytes | memoryview) -> None:
    """Write ``path`` whole or not at all (see :func:`atomic_file`): a reader never sees half a
    file, a crash or a full disk loses nothing, and an existing link at ``path`` is replaced,
    never written through.
    """
    with atomic_file(path) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def open_stream(root: Path, relative: str, keep: int = 0) -> IO[bytes]:
    """A file written row by row (a task's metrics.csv), open for appending.

    It is a new file made beside ``root/relative`` (created exclusively) that starts with the first
    ``keep`` bytes of the old file when a stream is continued (the old file read through
    :func:`open_inside`), and it is renamed over the name at once: rows then go to this new file
    through its descriptor, never through a link and never into a file that has other names.
    """
    path = Path(root, relative)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(path, _reason(exc)) from None
    handle = os.fdopen(fd, "wb")
    try:
        if keep:
            with open_inside(root, relative) as old:
                remaining = keep
                while remaining:
                    chunk = old.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise ScenarioError(f"expected at least {keep} bytes, found fewer", file=str(path))
                    handle.write(chunk)
                    remaining -= len(chunk)
        handle.flush()
        os.fchmod(fd, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            handle.close()
        _discard(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise OutputError(path, _reason(exc)) from None
        raise
    return handle


def save_figure(fig: Any, path: Path, **options: Any) -> None:
    """``fig.savefig`` to ``path`` through :func:`atomic_write`: the image is drawn in memory first,
    so a full disk leaves the previous figure (or none), never a truncated one.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **options)
    atomic_write(path, buffer.getbuffer())


def _discard(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def ensure_folder(root: Path, *parts: str) -> Path:
    """``root/parts...``, each level made if missing; a level below ``root`` (the run folder, the
    user's choice) that is a link or a file is refused (ScenarioError), so that nothing is written
    through a link planted in a run folder.
    """
    folder = Path(root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(folder, _reason(exc)) from None
    for part in parts:
        folder = folder / part
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except OSError as exc:
            raise OutputError(folder, _reason(exc)) from None
        mode = os.lstat(folder).st_mode
        if stat.S_ISLNK(mode):
            raise ScenarioError(f"expected a folder, found a symbolic link; {_NO_LINK_HINT}", file=str(folder))
        if not stat.S_ISDIR(mode):
            raise ScenarioError("expected a folder, found a file", file=str(folder))
    return folder


def open_inside(root: Path, relative: str | Path) -> IO[bytes]:
    """Open ``root/relative`` for reading without following a link at any level below ``root``
    (each level opened with O_NOFOLLOW relative to the one above), and only if it is a plain file
    with a single name: a symbolic or hard link could be a file outside the run folder.

    Raises FileNotFoundError when it does not exist, ScenarioError (one line) for a link, another
    kind of file or an unreadable one.
    """
    parts = Path(relative).parts
    shown = str(Path(root, relative))
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts[:-1]:
                inner = os.open(part, nofollow | os.O_DIRECTORY, dir_fd=folder)
                os.close(folder)
                folder = inner
            fd = os.open(parts[-1], nofollow | os.O_NONBLOCK, dir_fd=folder)  # NONBLOCK: a FIFO must not hang
        finally:
            os.close(folder)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise ScenarioError(f"expected a plain file, found a symbolic link; {_NO_LINK_HINT}", file=shown) from None
        raise ScenarioError(f"cannot read: {exc.strerror}", file=shown) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        found = (
            "a special file" if not stat.S_ISREG(info.st_mode) else f"a file with {info.st_nlink} names (a hard link)"
        )
        raise ScenarioError(f"expected a plain file of the run folder, found {found}; {_NO_LINK_HINT}", file=shown)
    return os.fdopen(fd, "rb")


def refuse_links(run_dir: Path) -> None:
    """Refuse (ScenarioError naming it) a run folder with a symbolic link anywhere inside: simlab
    would neither write nor read through it, and its presence means the folder was tampered with.
    """
    pending = [Path(run_dir)]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise ScenarioError(f"cannot read the run folder: {exc.strerror}", file=str(folder)) from None
        for entry in entries:
            if entry.is_symlink():
                raise ScenarioError(
                    f"found a symbolic link in the run folder; {_NO_LINK_HINT}", file=str(Path(entry.path))
                )
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive OS lock on the run folder for the block (``fcntl.flock`` on its
    ``.simlab.lock``, opened without following a link and never written).

    A second simlab process that wants to write the same folder (run, ``--resume``, plot,
    report) is refused with one line (ScenarioError) instead of interleaving its writes. The OS
    drops the lock when the process ends, however it ends, so a killed run never leaves the
    folder locked.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ScenarioError(
                f"expected a plain file, found a symbolic link; {_NO_LINK_HINT}", file=str(path)
            ) from None
        raise ScenarioError(f"cannot lock the run folder: {exc.strerror}", file=str(run_dir)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenarioError(
                "another simlab process is writing this run folder (run, --resume, plot or report); "
                "wait for it to end, then try again",
                file=str(run_dir),
            ) from None
        except OSError as exc:  # a file system without locks
            raise ScenarioError(f"cannot lock the run folder: {exc.strerror}", file=str(run_dir)) from None
        yield
    finally:
        os.close(fd)


def safe_name(label: str) -> str:
    """``label`` with every character outside ``[A-Za-z0-9_.-]`` runs replaced by ``_`` (a file name)."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", label)
