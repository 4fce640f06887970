"""Atomic netCDF files: write a temporary file next to the target, sync it, rename it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pytams.core.errors import DatabaseCorruptError

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


def write_atomically(target: Path, fill: Callable[[Any], None]) -> None:
    """Create ``target`` as a netCDF-4 file filled by ``fill(dataset)``, atomically.

    The data goes to a temporary file in the same directory, which is closed, fsync'ed and
    renamed over ``target``; the directory is fsync'ed last. A crash at any instant leaves
    either the old file or the new one (and possibly a stray temporary file).
    """
    tmp = temp_path(target)
    try:
        ds = netcdf4().Dataset(tmp, "w", format="NETCDF4")
        try:
            fill(ds)
        finally:
            ds.close()
        sync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    sync_dir(target.parent)


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
    except (KeyError, ValueError, IndexError, TypeError, AttributeError, RuntimeError) as exc:
        msg = f"{path}: {what} is incomplete or malformed ({type(exc).__name__}: {exc}); {fix}"
        raise DatabaseCorruptError(msg) from exc
    finally:
        ds.close()
