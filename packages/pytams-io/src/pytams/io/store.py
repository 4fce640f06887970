"""`NetCDFStore`: a run's database as a directory of netCDF files, crash-safe at any instant.

Layout of a database directory::

    tams.nc                      run metadata (config, seed, model, versions, format version),
                                 the iteration table (a journal) and the ensemble membership;
                                 written by the driver only
    trajectories/<key>.nc        one finished trajectory: time, score, noise, state

Every file is written whole to a temporary file in its directory, fsync'ed and renamed over
the old one, so a process killed at any instant leaves the old or the new file. The iteration
table is appended before an iteration's clones run and the ensemble is committed once they are
all stored, so the database always describes a state pytams-core can resume from.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import pickle
import re
import shutil
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.core.segment import WORKDIR_PATTERN
from pytams.core.store import IterationRecord
from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io._columns import (
    PathRoots,
    Writes,
    define_column,
    holds_text,
    read_column,
    write_data,
)
from pytams.io._files import (
    LOCK_FILE,
    is_stale_temp,
    is_temp,
    lock_database,
    open_for_reading,
    sync_dir,
    writer_for,
)

#: Version of the on-disk layout this package reads and writes.
FORMAT_VERSION = 1
MAIN_FILE = "tams.nc"
# tams.nc is rewritten at every iteration: the classic CDF-5 format is three times faster to
# write than netCDF-4/HDF5; it does not detect truncation itself, so a sentinel variable is
# written last (at the end of the file) and checked on reading
MAIN_FORMAT = "NETCDF3_64BIT_DATA"
# trajectory files are CDF-5 as well (built in memory: a fraction of a millisecond), except
# those with states that are strings or paths: variables of strings need netCDF-4
FAST_FORMAT = MAIN_FORMAT
TEXT_FORMAT = "NETCDF4"
_SENTINEL = 0x7079_7461_6D73  # "pytams"
TRAJECTORY_DIR = "trajectories"
_KEY_FILE = re.compile(r"^(\d+)-(\d+)\.nc$")
CACHE_BYTES = 256 * 2**20  # default memory for recently written or read trajectories
_VERSIONED = ("pytams-core", "pytams-io", "netCDF4", "numpy", "xarray")


class NetCDFStore:
    """A `pytams.core.Store` in a directory of netCDF files.

    Args:
        path: The database directory (created on the first write).
        read_only: Refuse every write (what `pytams.io.open_database` uses); a read-only
            store may be opened while a run writes the database.
        cache_bytes: Memory for the trajectories written or read last (TAMS reads back the
            clones it just stored, and every trajectory at the end of a run).

    Raises:
        StorageError: When ``path`` is a file, or a directory that is not a pytams database.
        DatabaseCorruptError: When ``tams.nc`` is damaged or of an incompatible format.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.path = Path(path)
        self.cache_bytes = cache_bytes
        self._cached_bytes = 0
        self.read_only = read_only
        self.main_file = self.path / MAIN_FILE
        self.trajectory_dir = self.path / TRAJECTORY_DIR
        self._roots = PathRoots(self.path)
        self._metadata_json: str | None = None
        self._iterations = IterationTable()
        self._ensemble: list[TrajectoryKey] | None = None
        self._created: str | None = None
        self._versions: dict[str, str] = {}
        self._clearing = False
        # trajectories written by this store (their files may still be committing)
        self._written: set[TrajectoryKey] = set()
        self._locked = False  # this store holds the writer lock and its directory exists
        self._trajectory_dir_made = False
        self._recent: OrderedDict[TrajectoryKey, tuple[Trajectory, int]] = OrderedDict()
        self._writer = writer_for(self.path)
        self._writer.flush()
        self._check_location()
        if self.main_file.exists():
            self._load()
            if self._clearing and not read_only:
                self._finish_clear()
        if not read_only and self.path.is_dir():
            lock_database(self.path)  # before anything is deleted
            self._remove_stale_temporaries()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"NetCDFStore({str(self.path)!r}{mode})"

    # ------------------------------------------------------------------ the Store protocol
    def read_metadata(self) -> dict[str, Any] | None:
        """See `pytams.core.Store`."""
        if self._metadata_json is None:
            return None
        metadata: dict[str, Any] = _decode(json.loads(self._metadata_json))
        return metadata

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        """See `pytams.core.Store`."""
        self._writable()
        self._metadata_json = json.dumps(_encode(dict(metadata)), sort_keys=True)
        self._versions = _versions()
        self._created = _now()
        self._write_main()

    def write_trajectory(self, trajectory: Trajectory) -> None:
        """See `pytams.core.Store`."""
        self._writable()
        if not self._trajectory_dir_made:
            self.trajectory_dir.mkdir(parents=True, exist_ok=True)
            sync_dir(self.path)
            self._trajectory_dir_made = True
        self._writer.write(
            self.trajectory_file(trajectory.key),
            lambda ds: _fill_trajectory(ds, trajectory, self._roots),
            TEXT_FORMAT if _holds_text(trajectory) else FAST_FORMAT,
        )
        self._written.add(trajectory.key)
        self._remember(trajectory)

    def read_trajectory(self, key: TrajectoryKey) -> Trajectory:
        """See `pytams.core.Store`.

        Raises:
            DatabaseCorruptError: When the file is missing or damaged (naming it).
        """
        if key in self._recent:
            self._recent.move_to_end(key)
            return self._recent[key][0]
        if key in self._written:
            self._writer.flush()
        path = self.trajectory_file(key)
        fix = self._fix_for(key)
        with open_for_reading(path, f"the file of trajectory {key}", fix) as ds:
            trajectory = _read_trajectory(ds, self._roots)
        if trajectory.key != key:
            msg = f"{path}: holds trajectory {trajectory.key}, not {key}; {fix}"
            raise DatabaseCorruptError(msg)
        self._remember(trajectory)
        return trajectory

    def trajectory_keys(self) -> list[TrajectoryKey]:
        """See `pytams.core.Store`."""
        keys = list(self._written)
        if not self.trajectory_dir.is_dir():
            return sorted(keys)
        for entry in os.scandir(self.trajectory_dir):
            match = _KEY_FILE.match(entry.name)
            if match:
                keys.append(TrajectoryKey(int(match[1]), int(match[2])))
        return sorted(set(keys))

    def has_trajectory(self, key: TrajectoryKey) -> bool:
        """See `pytams.core.Store`."""
        return key in self._written or self.trajectory_file(key).is_file()

    def append_iteration(self, record: IterationRecord) -> None:
        """See `pytams.core.Store`."""
        self._writable()
        self._iterations.append(record)
        try:
            self._write_main()
        except BaseException:
            self._iterations.pop()
            raise

    def read_iterations(self) -> list[IterationRecord]:
        """See `pytams.core.Store`."""
        return list(self._iterations.records)

    def write_ensemble(self, keys: Sequence[TrajectoryKey]) -> None:
        """See `pytams.core.Store`."""
        self._writable()
        self._ensemble = list(keys)
        # written with the next change (the next iteration's journal entry follows at once)
        # or at the next flush: one file write per iteration instead of two
        self._writer.defer(self._write_main)

    def read_ensemble(self) -> list[TrajectoryKey] | None:
        """See `pytams.core.Store`."""
        return None if self._ensemble is None else list(self._ensemble)

    def clear(self) -> None:
        """See `pytams.core.Store`: delete the run (only on an explicit overwrite).

        ``tams.nc`` is first rewritten as an empty database marked "clearing", then the
        trajectory files are deleted; a store opened on a database whose clearing was
        interrupted finishes it. Files that are not the database's are left alone.
        """
        self._writable()
        self._writer.flush()
        self._written.clear()
        self._recent.clear()
        self._cached_bytes = 0
        self._metadata_json = None
        self._iterations = IterationTable()
        self._ensemble = None
        self._clearing = True
        self._write_main()
        self._writer.flush()
        self._finish_clear()

    def flush(self) -> None:
        """Wait until every write so far is on disk (they are committed in the background).

        Raises:
            StorageError: When a write failed (naming the file).
        """
        self._writer.flush()

    # ------------------------------------------------------------------ exploration helpers
    @property
    def versions(self) -> dict[str, str]:
        """Versions of the packages that wrote the database."""
        return dict(self._versions)

    @property
    def created(self) -> str | None:
        """When the run was started (ISO 8601, UTC)."""
        return self._created

    @property
    def updated(self) -> float | None:
        """When ``tams.nc`` was last written (seconds since the epoch)."""
        try:
            return self.main_file.stat().st_mtime
        except OSError:
            return None

    def model_steps(self, key: TrajectoryKey) -> int:
        """The model steps spent on a stored trajectory, read without its data."""
        if key in self._recent:
            return self._recent[key][0].model_steps
        self._writer.flush()
        path = self.trajectory_file(key)
        with open_for_reading(path, f"the file of trajectory {key}", self._fix_for(key)) as ds:
            return int(ds.pytams_model_steps)

    def trajectory_file(self, key: TrajectoryKey) -> Path:
        """The file of the trajectory ``key``."""
        return self.trajectory_dir / f"{key}.nc"

    def reload(self) -> None:
        """Read ``tams.nc`` again (a read-only store following a running run)."""
        if self.main_file.exists():
            self._load()

    # ------------------------------------------------------------------ internals
    def _writable(self) -> None:
        """Refuse writes to a read-only store; hold the database's writer lock."""
        if self.read_only:
            msg = f"{self.path}: the database was opened read-only; open it with NetCDFStore"
            raise StorageError(msg)
        if self._locked:
            return
        if not self.path.is_dir():
            self.path.mkdir(parents=True, exist_ok=True)
            sync_dir(self.path.parent)
        lock_database(self.path)
        self._locked = True

    def _fix_for(self, key: TrajectoryKey) -> str:
        listed = self._ensemble is not None and key in self._ensemble
        where = (
            "is in the committed ensemble, so the run cannot go on without it"
            if listed
            else "was stored by the run"
        )
        return (
            f"the trajectory {where}: restore {self.path} from a backup, or move that "
            "directory away (pytams never deletes a damaged database) and start the run again"
        )

    def _check_location(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            msg = f"{self.path} is a file, not a database directory; choose another [database] path"
            raise StorageError(msg)
        if not self.path.is_dir() or self.main_file.exists():
            return
        foreign = [
            p.name
            for p in self.path.iterdir()
            if not (p.name == TRAJECTORY_DIR and p.is_dir())
            and not is_temp(p)
            and p.name != LOCK_FILE
        ]
        if not self.read_only and self.trajectory_dir.is_dir() and self.trajectory_keys():
            msg = (
                f"{self.path} holds trajectory files but no {MAIN_FILE}: it is not a "
                "complete pytams database (was tams.nc deleted?); restore tams.nc, or move "
                "the directory away and start again"
            )
            raise DatabaseCorruptError(msg)
        repeats = sorted(name for name in foreign if name.startswith("repeat-"))
        if repeats:
            msg = (
                f"{self.path} holds the databases of several repeats ({', '.join(repeats[:3])}"
                f"{', ...' if len(repeats) > 3 else ''}); open one of them, e.g. "
                f"{self.path / repeats[0]}"
            )
            raise StorageError(msg)
        if foreign:
            shown = ", ".join(sorted(foreign)[:5])
            msg = (
                f"{self.path} exists and is not a pytams database (it holds {shown} and no "
                f"{MAIN_FILE}); choose another [database] path"
            )
            raise StorageError(msg)

    def _remove_stale_temporaries(self) -> None:
        """Delete the temporary files of killed writers (never a database file)."""
        for directory in (self.path, self.trajectory_dir):
            if directory.is_dir():
                for entry in directory.iterdir():
                    if is_stale_temp(entry) and entry.is_file():
                        with contextlib.suppress(OSError):
                            entry.unlink()

    def _finish_clear(self) -> None:
        for directory in (self.trajectory_dir, self.path):
            if not directory.is_dir():
                continue
            for entry in list(directory.iterdir()):
                ours = (
                    directory == self.trajectory_dir and _KEY_FILE.match(entry.name)
                ) or is_temp(entry)
                if ours and entry.is_file():
                    entry.unlink()
                elif directory == self.trajectory_dir and WORKDIR_PATTERN.match(entry.name):
                    shutil.rmtree(entry)  # a segment's working directory (its model's files)
        self._clearing = False

    def _write_main(self) -> None:
        self._writer.defer(None)  # this write supersedes a deferred one
        self._writer.write(self.main_file, self._fill_main, MAIN_FORMAT)

    def _remember(self, trajectory: Trajectory) -> None:
        """Keep a trajectory in memory (TAMS reads back what it just wrote), within budget."""
        size = _size(trajectory)
        old = self._recent.pop(trajectory.key, None)
        if old is not None:
            self._cached_bytes -= old[1]
        self._recent[trajectory.key] = (trajectory, size)
        self._cached_bytes += size
        while self._cached_bytes > self.cache_bytes and self._recent:
            _, (_, dropped) = self._recent.popitem(last=False)
            self._cached_bytes -= dropped

    def _fill_main(self, ds: Any) -> None:
        if ds.data_model != "NETCDF4":
            ds.set_fill_off()  # every variable is written whole
        attrs: dict[str, Any] = {
            "Conventions": "CF-1.10",
            "title": "pytams database: run metadata, iteration table and ensemble",
            "institution": "pytams",
            "source": f"pytams-io {_versions().get('pytams-io', 'unknown')}",
            "history": f"{_now()} written by pytams-io",
            "pytams_format": "pytams-database",
            "pytams_format_version": np.int32(FORMAT_VERSION),
            "pytams_clearing": np.int8(self._clearing),
            "pytams_created": self._created or _now(),
            "pytams_versions": json.dumps(self._versions, sort_keys=True),
            "pytams_ensemble_committed": np.int8(self._ensemble is not None),
        }
        if self._metadata_json is not None:
            metadata = self.read_metadata() or {}
            attrs |= {
                "pytams_metadata": self._metadata_json,
                "pytams_model": str(metadata.get("model")),
                "pytams_seed": str(metadata.get("seed")),
            }
        ds.setncatts(attrs)
        writes = _define_iterations(ds, self._iterations.frozen())
        if self._ensemble:
            ds.createDimension("slot", len(self._ensemble))
            var = ds.createVariable("ensemble_generation", "i8", ("slot",), fill_value=False)
            var.long_name = "generation of the trajectory occupying each slot of the ensemble"
            writes.append((var, np.asarray([k.generation for k in self._ensemble], dtype=np.int64)))
            if [k.slot for k in self._ensemble] != list(range(len(self._ensemble))):
                var = ds.createVariable("ensemble_slot", "i8", ("slot",), fill_value=False)
                var.long_name = "slot of each member of the ensemble"
                writes.append((var, np.asarray([k.slot for k in self._ensemble], dtype=np.int64)))
        writes.append(_define_end(ds))
        write_data(writes)

    def _load(self) -> None:
        fix = (
            "restore it from a backup, or move the directory away (pytams never deletes a "
            "damaged database) and start the run again"
        )
        with open_for_reading(self.main_file, "the database's main file", fix) as ds:
            names = ds.ncattrs()
            if "pytams_format" not in names or ds.pytams_format != "pytams-database":
                msg = (
                    f"{self.main_file} is a netCDF file but not a pytams database; choose "
                    "another [database] path"
                )
                raise StorageError(msg)
            found = int(ds.pytams_format_version)
            if found != FORMAT_VERSION:
                newer = "a newer" if found > FORMAT_VERSION else "an older"
                msg = (
                    f"{self.main_file} has database format version {found}, and this "
                    f"pytams-io reads version {FORMAT_VERSION}: it was written by {newer} "
                    "pytams-io; install a pytams-io that reads that format (see its "
                    "pytams_versions attribute), or start a new database"
                )
                raise DatabaseCorruptError(msg)
            _check_end(ds)
            self._clearing = bool(ds.pytams_clearing)
            self._created = str(ds.pytams_created)
            self._versions = json.loads(ds.pytams_versions)
            self._metadata_json = str(ds.pytams_metadata) if "pytams_metadata" in names else None
            if self._metadata_json is not None:
                json.loads(self._metadata_json)
            self._iterations = IterationTable(_read_iterations(ds))
            if int(ds.pytams_ensemble_committed):
                generations = ds.variables["ensemble_generation"][:].tolist()
                slots = (
                    ds.variables["ensemble_slot"][:].tolist()
                    if "ensemble_slot" in ds.variables
                    else range(len(generations))
                )
                self._ensemble = [
                    TrajectoryKey(s, g) for s, g in zip(slots, generations, strict=True)
                ]
            else:
                self._ensemble = None


def _define_end(ds: Any) -> tuple[Any, Any]:
    """The end-of-file sentinel: the last variable, so the last bytes of a CDF-5 file."""
    end = ds.createVariable("pytams_end", "i8", (), fill_value=False)
    end.long_name = "end-of-file sentinel (a truncated file lacks it)"
    return end, np.int64(_SENTINEL)


def _check_end(ds: Any) -> None:
    """Raise ValueError when a CDF-5 file lacks its sentinel (HDF5 detects truncation itself)."""
    if ds.data_model == "NETCDF4" and "pytams_end" not in ds.variables:
        return
    if "pytams_end" not in ds.variables or int(ds["pytams_end"][...]) != _SENTINEL:
        msg = "its end is missing (the file is truncated)"
        raise ValueError(msg)


# ---------------------------------------------------------------------- trajectories
def _size(trajectory: Trajectory) -> int:
    """Approximate memory of a trajectory's columns, in bytes."""
    size = 64 * len(trajectory)
    for column in (trajectory.noises, trajectory.states):
        for value in column:
            if isinstance(value, np.ndarray):
                size += value.nbytes
    return size


def _holds_text(trajectory: Trajectory) -> bool:
    return holds_text(trajectory.states) or holds_text(trajectory.noises)


def _fill_trajectory(ds: Any, trajectory: Trajectory, roots: PathRoots) -> None:
    n = len(trajectory)
    ds.setncatts(
        {
            "Conventions": "CF-1.10",
            "title": f"pytams trajectory {trajectory.key}",
            "pytams_format": "pytams-trajectory",
            "pytams_format_version": np.int32(FORMAT_VERSION),
            "pytams_key": str(trajectory.key),
            "pytams_parent": "" if trajectory.parent is None else str(trajectory.parent),
            "pytams_branch_index": np.int64(
                -1 if trajectory.branch_index is None else trajectory.branch_index
            ),
            "pytams_converged": np.int8(trajectory.converged),
            "pytams_model_steps": np.int64(trajectory.model_steps),
        }
    )
    ds.createDimension("time", n)
    times = ds.createVariable("time", "f8", ("time",), fill_value=False)
    times.setncatts(
        {"standard_name": "time", "long_name": "model time of each snapshot", "units": "1",
         "axis": "T"}
    )  # fmt: skip
    scores = ds.createVariable("score", "f8", ("time",), fill_value=False)
    scores.setncatts({"long_name": "score function xi(t, x) at each snapshot", "units": "1"})
    writes: Writes = [
        (times, np.asarray(trajectory.times, dtype=np.float64)),
        (scores, np.asarray(trajectory.scores, dtype=np.float64)),
    ]
    writes += define_column(
        ds, "noise", trajectory.noises, None, "noise of the step that led to each snapshot"
    )
    writes += define_column(
        ds, "state", trajectory.states, roots, "model state at the snapshots where it is stored"
    )
    writes.append(_define_end(ds))
    write_data(writes)


def _read_trajectory(ds: Any, roots: PathRoots) -> Trajectory:
    _check_end(ds)
    n = len(ds.dimensions["time"])
    times = ds.variables["time"][:]
    scores = ds.variables["score"][:]
    if len(times) != n or len(scores) != n:
        msg = f"time and score hold {len(times)} and {len(scores)} values for {n} snapshots"
        raise ValueError(msg)
    parent = str(ds.pytams_parent)
    branch = int(ds.pytams_branch_index)
    return Trajectory(
        key=TrajectoryKey.parse(str(ds.pytams_key)),
        parent=TrajectoryKey.parse(parent) if parent else None,
        branch_index=None if branch < 0 else branch,
        times=times.tolist(),
        scores=scores.tolist(),
        noises=read_column(ds, "noise", n, None),
        states=read_column(ds, "state", n, roots),
        converged=bool(ds.pytams_converged),
        model_steps=int(ds.pytams_model_steps),
    )


# ---------------------------------------------------------------------- iteration table
_KEY_COLUMNS = ("killed_slot", "killed_generation", "parent_slot", "parent_generation")


@dataclass(frozen=True)
class IterationColumns:
    """The iteration table as columns (read-only views), one row per iteration."""

    index: np.ndarray
    level: np.ndarray
    weight: np.ndarray
    killed_count: np.ndarray
    kills: np.ndarray  # one row per kill: _KEY_COLUMNS


class _Growing:
    """A numpy array grown in place: appending rows costs O(1) amortized."""

    def __init__(self, dtype: Any, width: int | None = None) -> None:
        self._shape = () if width is None else (width,)
        self._data = np.empty((16, *self._shape), dtype=dtype)
        self.size = 0

    def extend(self, rows: Any) -> None:
        rows = np.asarray(rows, dtype=self._data.dtype).reshape(-1, *self._shape)
        end = self.size + len(rows)
        if end > len(self._data):
            grown = np.empty((max(end, 2 * len(self._data)), *self._shape), self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = rows
        self.size = end

    def view(self) -> np.ndarray:
        """The rows so far (later appends never change them)."""
        view = self._data[: self.size]
        view.flags.writeable = False
        return view


class IterationTable:
    """The iteration records, and the same as columns kept up to date as records are appended.

    ``tams.nc`` is rewritten at every iteration: the columns make that cost a copy of
    arrays instead of a pass over every record in Python.
    """

    def __init__(self, records: Sequence[IterationRecord] = ()) -> None:
        self.records: list[IterationRecord] = []
        self._columns = {
            "index": _Growing(np.int64),
            "level": _Growing(np.float64),
            "weight": _Growing(np.float64),
            "killed_count": _Growing(np.int64),
            "kills": _Growing(np.int64, len(_KEY_COLUMNS)),
        }
        for record in records:
            self.append(record)

    def append(self, record: IterationRecord) -> None:
        """Add a row."""
        self.records.append(record)
        columns = self._columns
        columns["index"].extend(record.index)
        columns["level"].extend(record.level)
        columns["weight"].extend(record.weight)
        columns["killed_count"].extend(len(record.killed))
        columns["kills"].extend(
            [
                (killed.slot, killed.generation, parent.slot, parent.generation)
                for killed, parent in zip(record.killed, record.parents, strict=True)
            ]
        )

    def pop(self) -> None:
        """Remove the last row (a write of it failed)."""
        record = self.records.pop()
        for name, column in self._columns.items():
            column.size -= len(record.killed) if name == "kills" else 1

    def frozen(self) -> IterationColumns:
        """The columns as they are now."""
        return IterationColumns(**{name: c.view() for name, c in self._columns.items()})


def _define_iterations(ds: Any, table: IterationColumns) -> Writes:
    """The iteration table: one row per iteration, kills as a CF contiguous ragged array."""
    size = len(table.index)
    if not size:
        return []
    writes: Writes = []
    ds.createDimension("iteration", size)
    if not np.array_equal(table.index, np.arange(size)):
        var = ds.createVariable("iteration", "i8", ("iteration",), fill_value=False)
        var.long_name = "iteration number j"
        writes.append((var, table.index))
    columns: list[tuple[str, str, np.ndarray, dict[str, str]]] = [
        ("level", "f8", table.level,
         {"long_name": "level z_j: the k-th smallest maximum score", "units": "1"}),
        ("weight", "f8", table.weight,
         {"long_name": "weight W_{j+1} = W_j (1 - l_j / N) after the iteration", "units": "1"}),
        ("killed_count", "i8", table.killed_count,
         {"long_name": "number of trajectories killed l_j", "sample_dimension": "kill"}),
    ]  # fmt: skip
    for name, dtype, values, attrs in columns:
        var = ds.createVariable(name, dtype, ("iteration",), fill_value=False)
        var.setncatts(attrs)
        writes.append((var, values))
    if len(table.kills):
        ds.createDimension("kill", len(table.kills))
        ds.createDimension("key_column", len(_KEY_COLUMNS))
        var = ds.createVariable("kills", "i8", ("kill", "key_column"), fill_value=False)
        var.setncatts(
            {
                "long_name": "killed trajectories and the parents of their clones, by iteration",
                "columns": " ".join(_KEY_COLUMNS),
            }
        )
        writes.append((var, table.kills))
    return writes


def _read_iterations(ds: Any) -> list[IterationRecord]:
    if "iteration" not in ds.dimensions:
        return []
    size = len(ds.dimensions["iteration"])
    index = (
        ds.variables["iteration"][:].tolist() if "iteration" in ds.variables else list(range(size))
    )
    level = ds.variables["level"][:].tolist()
    weight = ds.variables["weight"][:].tolist()
    count = ds.variables["killed_count"][:].tolist()
    total = sum(count)
    rows = ds.variables["kills"][:].tolist() if total else []
    if len(rows) != total or not len(index) == len(level) == len(weight) == size:
        msg = f"the iteration table is inconsistent ({len(rows)} kills, killed_count {total})"
        raise ValueError(msg)
    records, start = [], 0
    for j, lev, w, c in zip(index, level, weight, count, strict=True):
        chunk = rows[start : start + c]
        records.append(
            IterationRecord(
                index=j,
                level=lev,
                killed=tuple(TrajectoryKey(row[0], row[1]) for row in chunk),
                parents=tuple(TrajectoryKey(row[2], row[3]) for row in chunk),
                weight=w,
            )
        )
        start += c
    return records


# ---------------------------------------------------------------------- metadata
_TAGS = ("__pytams_tuple__", "__pytams_pickle__")


def _encode(value: Any) -> Any:
    """JSON-ready form of metadata: tuples and non-JSON values tagged so they come back."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_encode(v) for v in value]
    if type(value) is tuple:
        return {_TAGS[0]: [_encode(v) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value) and not set(value) & set(_TAGS):
        return {k: _encode(v) for k, v in value.items()}
    blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return {_TAGS[1]: base64.b64encode(blob).decode("ascii")}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and _TAGS[0] in value:
            return tuple(_decode(v) for v in value[_TAGS[0]])
        if len(value) == 1 and _TAGS[1] in value:
            return pickle.loads(base64.b64decode(value[_TAGS[1]]))
        return {k: _decode(v) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in _VERSIONED:
        with contextlib.suppress(PackageNotFoundError):
            found.append((name, version(name)))
    return tuple(found)


def _versions() -> dict[str, str]:
    return dict(_package_versions())


def _now() -> str:
    return datetime.fromtimestamp(time.time(), tz=timezone.utc).isoformat(timespec="seconds")
