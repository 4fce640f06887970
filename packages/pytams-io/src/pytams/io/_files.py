"""Atomic netCDF files: write a temporary file next to the target, sync it, rename it."""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import socket
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: databases are not locked there
    fcntl = None  # type: ignore[assignment]

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.io import _cdf5 as cdf5

TEMP_SUFFIX = ".tmp"


def netcdf4() -> Any:
    """The netCDF4 module, imported on first use.

    HDF5 file locking is turned off (unless set): no two writers ever share a file, and
    locking fails on some parallel file systems.
    """
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    import netCDF4

    return netCDF4


def temp_path(target: Path) -> Path:
    """A fresh hidden temporary name in the target's directory."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")


def is_temp(path: Path) -> bool:
    """Whether ``path`` is a temporary file left by an interrupted write."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def is_stale_temp(path: Path) -> bool:
    """Whether ``path`` is a temporary file of a process of this host that no longer runs."""
    if not is_temp(path):
        return False
    try:
        pid = int(path.name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[1].split("-")[0])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def write_temporary(target: Path, fill: Callable[[Any], None], fmt: str = "NETCDF4") -> Path:
    """Write a complete (closed) temporary netCDF file next to ``target``; return its path.

    ``fmt`` is a format of ``netCDF4.Dataset``; CDF-5 files (``NETCDF3_64BIT_DATA``) are built
    by `pytams.io._cdf5`, much faster for small files.
    """
    tmp = temp_path(target)
    try:
        if fmt == cdf5.DATA_MODEL:  # built in memory, written at once
            built = cdf5.Dataset()
            fill(built)
            built.write(tmp)
        else:
            ds = netcdf4().Dataset(tmp, "w", format=fmt)
            try:
                fill(ds)
            finally:
                ds.close()
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def commit(tmp: Path, target: Path) -> None:
    """Make a complete temporary file durable and rename it over ``target``."""
    sync_file(tmp)
    os.replace(tmp, target)
    sync_dir(target.parent)


class Writer:
    """Commits temporary files (fsync, rename, fsync the directory) in order, in a thread.

    The files themselves are written by the caller; only the slow, GIL-free part (waiting
    for the disk) overlaps with the run. Commits happen strictly in submission order, so the
    files on disk always show the database as it was after some prefix of its writes: a
    kill at any instant leaves a state the run passed through, from which it resumes. After
    a failed commit no later one is applied, and the next call raises.
    """

    def __init__(self, depth: int = 8) -> None:
        self._queue: queue.Queue[tuple[Path, Path]] = queue.Queue(maxsize=depth)
        self._error: tuple[Path, BaseException] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._deferred: Callable[[], None] | None = None

    def write(self, target: Path, fill: Callable[[Any], None], fmt: str = "NETCDF4") -> None:
        """Write ``target`` atomically (committed in the background, in order)."""
        self.check()
        self._run_deferred()
        tmp = write_temporary(target, fill, fmt)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="pytams-io-writer", daemon=True
                )
                self._thread.start()
        self._queue.put((tmp, target))

    def defer(self, write: Callable[[], None] | None) -> None:
        """Postpone a write until the next write or flush (a later write may supersede it).

        Skipping a state is always safe: the files still show states the run passed through,
        in order.
        """
        self._deferred = write

    def flush(self) -> None:
        """Wait until every submitted file is committed; raise if one failed."""
        self._run_deferred()
        if self._thread is not None:
            self._queue.join()
        self.check()

    def _run_deferred(self) -> None:
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            deferred()

    @property
    def failed(self) -> bool:
        """Whether a commit failed (the writer then refuses every later write)."""
        return self._error is not None

    def drain(self) -> None:
        """Wait for the queue to empty (after a failure: its files are dropped)."""
        if self._thread is not None:
            self._queue.join()

    def check(self) -> None:
        """Raise the error of a failed commit, if any.

        Raises:
            StorageError: Naming the file and the cause.
        """
        if self._error is not None:
            target, exc = self._error
            msg = (
                f"{target}: could not be written ({type(exc).__name__}: {exc}); the "
                "database holds the run up to the previous write: fix the cause (disk "
                "full? permissions?) and resume"
            )
            raise StorageError(msg) from exc

    def _work(self) -> None:
        while True:
            tmp, target = self._queue.get()
            try:
                if self._error is None:
                    commit(tmp, target)
                else:
                    tmp.unlink()
            except BaseException as exc:
                self._error = (target, exc)
                with contextlib.suppress(OSError):
                    tmp.unlink()
            finally:
                self._queue.task_done()


_WRITERS: dict[str, Writer] = {}
_WRITERS_LOCK = threading.Lock()


def writer_for(directory: Path) -> Writer:
    """The one writer of a database directory in this process (shared keeps the order)."""
    key = os.path.realpath(directory)
    with _WRITERS_LOCK:
        if key not in _WRITERS or _WRITERS[key].failed:
            if key in _WRITERS:  # a new store starts again from what is on disk
                _WRITERS[key].drain()
            _WRITERS[key] = Writer()
        return _WRITERS[key]


LOCK_FILE = ".pytams.lock"
_LOCKS: dict[str, int | None] = {}


def lock_database(directory: Path) -> None:
    """Hold the writer lock of a database directory for the rest of this process.

    An advisory lock (``flock``) on ``directory/.pytams.lock``: the kernel drops it when the
    process ends, however it ends, so a crash never leaves a stale lock behind. Where the
    file system has no locks, a warning says so and the run goes on unprotected.

    Raises:
        StorageError: When another process holds the lock (naming it).
    """
    key = os.path.realpath(directory)
    with _WRITERS_LOCK:
        if key in _LOCKS:
            if _still_locked(directory, _LOCKS[key]):
                return
            held = _LOCKS.pop(key)
            if held is not None:
                os.close(held)  # the directory was deleted and made again: lock the new one
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is None:
                raise OSError("fcntl.flock is not available on this platform")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            msg = (
                f"{directory} is being written by another run ({holder}); two runs writing "
                "one database would corrupt it: wait for that run to end or stop it (its lock "
                "goes with its process), or choose another [database] path"
            )
            raise StorageError(msg) from None
        except OSError as exc:
            os.close(fd)
            warnings.warn(
                f"{directory}: cannot lock the database ({exc}); nothing stops a second run "
                "from writing it at the same time",
                stacklevel=3,
            )
            _LOCKS[key] = None
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()}".encode(), 0)
        _LOCKS[key] = fd


def _still_locked(directory: Path, fd: int | None) -> bool:
    """Whether the lock this process holds is on the lock file now in ``directory``."""
    if fd is None:
        return True
    try:
        held, present = os.fstat(fd), (directory / LOCK_FILE).stat()
    except OSError:
        return False
    return held.st_nlink > 0 and (held.st_dev, held.st_ino) == (present.st_dev, present.st_ino)


def flush_all() -> None:
    """Commit every pending write of this process (run at exit)."""
    with _WRITERS_LOCK:
        writers = list(_WRITERS.values())
    for writer in writers:
        with contextlib.suppress(StorageError):
            writer.flush()


atexit.register(flush_all)


def sync_file(path: Path) -> None:
    """Flush a file to disk (fsync), by name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """Flush a directory to disk (makes a rename durable); a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_for_reading(path: Path, what: str, fix: str) -> Iterator[Any]:
    """Open a netCDF file read-only with raw values (no masking or scaling).

    Raises:
        DatabaseCorruptError: When the file is missing, truncated or not netCDF, naming
            ``what`` it is and the ``fix``.
    """
    if not path.is_file():
        msg = f"{path}: {what} is missing; {fix}"
        raise DatabaseCorruptError(msg)
    try:
        ds = netcdf4().Dataset(path, "r")
    except OSError as exc:
        msg = f"{path}: {what} is damaged (truncated or not netCDF: {exc}); {fix}"
        raise DatabaseCorruptError(msg) from exc
    try:
        ds.set_auto_maskandscale(False)
        yield ds
    except StorageError:
        raise  # says itself what is wrong (e.g. pickles the reader did not opt in to)
    except (
        KeyError,
        ValueError,
        IndexError,
        TypeError,
        AttributeError,
        RuntimeError,
        OSError,
    ) as exc:
        msg = f"{path}: {what} is incomplete or malformed ({type(exc).__name__}: {exc}); {fix}"
        raise DatabaseCorruptError(msg) from exc
    finally:
        ds.close()
