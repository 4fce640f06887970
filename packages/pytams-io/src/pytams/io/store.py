"""`NetCDFStore`: a run's database as a directory of netCDF files, crash-safe at any instant.

``tams.nc`` holds the run's metadata, iteration table and ensemble (`pytams.io._main_file`),
``journal/<index>.nc`` the iterations since ``tams.nc`` was last rewritten
(`pytams.io._journal`), ``trajectories/<key>.nc`` one trajectory each
(`pytams.io._trajectory_file`; the directory: `pytams.io._layout`). Every file is written
whole to a temporary file, fsync'ed and renamed over the old one (`pytams.io._files`); the
iteration table is appended before an iteration's clones run and the ensemble committed once
they are all stored: a process killed at any instant leaves a database from which
pytams-core resumes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.core.store import IterationRecord
from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io._attributes import time_units
from pytams.io._cache import TrajectoryCache
from pytams.io._columns import PathRoots
from pytams.io._files import lock_database, open_for_reading, writer_for
from pytams.io._iterations import IterationTable
from pytams.io._journal import (
    JOURNAL_FORMAT,
    commit_clones,
    compaction_due,
    entry_file,
    fill_entry,
    read_journal,
    remove_stale,
)
from pytams.io._layout import (
    FILE_FORMAT_VERSION,
    MAIN_FILE,
    TRAJECTORY_DIR,
    Layout,
    restore_advice,
)
from pytams.io._main_file import MAIN_FORMAT, MainFile, now, package_versions
from pytams.io._metadata import from_json, to_json
from pytams.io._trajectory_file import fill_trajectory_file, trajectory_format
from pytams.io._trust import UntrustedPickleError
from pytams.io._worker_files import WorkerFiles, assemble, read_key_file

__all__ = [
    "CACHE_BYTES",
    "FILE_FORMAT_VERSION",
    "MAIN_FILE",
    "TRAJECTORY_DIR",
    "IterationTable",
    "NetCDFStore",
]

CACHE_BYTES = 256 * 2**20  # default memory for recently written or read trajectories


class NetCDFStore:
    """A `pytams.core.Store` in a directory of netCDF files.

    Args:
        path: The database directory (created on the first write).
        read_only: Refuse every write (what `pytams.io.open_database` uses); a read-only
            store may be opened while a run writes the database.
        cache_bytes: Memory for the trajectories written or read last (TAMS reads back the
            clones it just stored, and every trajectory at the end of a run).
        allow_pickle: Read the Python pickles the database may hold (exotic state values,
            metadata of older pytams-io). Unpickling runs code, so it is for trusted
            databases only. By default a writer (the store a run opens) reads them: running
            or resuming in a database means trusting it, as its own run wrote it; a
            read-only store (exploring) never does unless asked (`pytams.io._trust`).

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
        allow_pickle: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.allow_pickle = not read_only if allow_pickle is None else allow_pickle
        self._layout = Layout(self.path)
        self.main_file = self._layout.main_file
        self.trajectory_dir = self._layout.trajectory_dir
        self._roots = PathRoots(self.path)
        # what tams.nc holds (see MainFile)
        self._metadata_json: str | None = None
        self._time_units = "1"  # [model] time_units of the run, for the trajectory files
        self._iterations = IterationTable()
        self._ensemble: list[TrajectoryKey] | None = None
        # tams.nc as last written: its iterations, whether it holds an ensemble; the journal
        # files written since
        self._in_main = 0
        self._main_has_ensemble = False
        self._journaled = 0
        self._created: str | None = None
        self._versions: dict[str, str] = {}
        self._clearing = False
        # trajectories written by this store (their files may still be committing)
        self._written: set[TrajectoryKey] = set()
        self._cache = TrajectoryCache(cache_bytes)
        self._writer = writer_for(self.path)
        self._writer.flush()
        self._layout.check(read_only=read_only)
        if self.main_file.exists():
            self._load()
            if self._clearing and not read_only:
                self._finish_clear()
        if not read_only and self.path.is_dir():
            lock_database(self.path)  # before anything is deleted
            self._layout.remove_stale_temporaries()
            remove_stale(self._layout.journal_dir, self._in_main)

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        if self.allow_pickle == self.read_only:
            mode += f", allow_pickle={self.allow_pickle}"
        return f"NetCDFStore({str(self.path)!r}{mode})"

    # ------------------------------------------------------------------ the Store protocol
    @property
    def location(self) -> Path:
        """See `pytams.core.Store`: the database directory."""
        return self.path

    def read_metadata(self) -> dict[str, Any] | None:
        """See `pytams.core.Store`.

        Raises:
            UntrustedPickleError: When the metadata holds pickles (of an older pytams-io)
                and the store does not read pickles (``allow_pickle``).
            DatabaseCorruptError: When the metadata is malformed.
        """
        if self._metadata_json is None:
            return None
        try:
            return from_json(self._metadata_json, allow_pickle=self.allow_pickle)
        except UntrustedPickleError as exc:
            raise UntrustedPickleError(f"{self.main_file}: {exc}") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            msg = (
                f"{self.main_file}: the run's metadata is malformed ({type(exc).__name__}: "
                f"{exc}); restore the file from a backup"
            )
            raise DatabaseCorruptError(msg) from exc

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        """See `pytams.core.Store`."""
        self._writable()
        self._metadata_json = to_json(metadata)
        self._time_units = time_units(metadata)
        self._versions = package_versions()
        self._created = self._created or now()  # when the run first wrote here
        self._write_main()

    def write_trajectory(self, trajectory: Trajectory) -> None:
        """See `pytams.core.Store`."""
        self._writable()
        self._layout.make_trajectory_dir()
        self._writer.write(
            self.trajectory_file(trajectory.key),
            lambda ds: fill_trajectory_file(ds, trajectory, self._roots, self._time_units),
            trajectory_format(trajectory),
        )
        self._written.add(trajectory.key)
        self._cache.add(trajectory)

    def read_trajectory(self, key: TrajectoryKey) -> Trajectory:
        """See `pytams.core.Store`.

        Raises:
            DatabaseCorruptError: When the file is missing or damaged (naming it).
        """
        trajectory = assemble(key, self._read_part, self._cache.get, self._cache.add)
        self._cache.add(trajectory)
        return trajectory

    def _read_part(self, key: TrajectoryKey) -> tuple[Trajectory, int]:
        """What the file of ``key`` holds (a clone's: its own snapshots; see `assemble`)."""
        if key in self._written:
            self._writer.flush()
        path = self.trajectory_file(key)
        return read_key_file(path, key, self._roots, self.allow_pickle, self._fix_for(key))

    def worker_files(self) -> WorkerFiles:
        """How workers store trajectories themselves (see `pytams.core.store.TrajectoryFiles`).

        The run's driver calls it once the metadata is written; it makes the trajectory
        directory, whose presence tells a worker that it shares the driver's file system.
        """
        self._writable()
        self._writer.flush()  # the files this store wrote are on disk for the workers
        self._layout.make_trajectory_dir()
        return WorkerFiles(self.path.absolute(), self._time_units, self.allow_pickle)

    def trajectory_keys(self) -> list[TrajectoryKey]:
        """See `pytams.core.Store`."""
        return sorted({*self._written, *self._layout.stored_keys()})

    def has_trajectory(self, key: TrajectoryKey) -> bool:
        """See `pytams.core.Store`."""
        return key in self._written or self.trajectory_file(key).is_file()

    def append_iteration(self, record: IterationRecord) -> None:
        """See `pytams.core.Store`: one journal file, or ``tams.nc`` rewritten whole.

        The journal file also commits the previous iteration's clones (the ensemble commit
        it supersedes): ``tams.nc`` is rewritten instead when that does not describe the
        ensemble, or at a compaction point (`pytams.io._journal.compaction_due`).
        """
        self._writable()
        previous = self._iterations.records[-1] if self._iterations.records else None
        self._iterations.append(record)
        try:
            if self._journal_describes_ensemble(previous) and not compaction_due(
                self._journaled, self._in_main, len(self._ensemble or ())
            ):
                self._writer.defer(None)  # the journal file commits the ensemble
                self._layout.make_journal_dir()
                self._writer.write(
                    entry_file(self._layout.journal_dir, record.index),
                    lambda ds: fill_entry(ds, record),
                    JOURNAL_FORMAT,
                )
                self._journaled += 1
            else:
                self._compact()
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

    def write_members(self, keys: Sequence[TrajectoryKey]) -> None:
        """Put each key into its slot of the committed ensemble (`pytams.core.store`): O(k)."""
        self._writable()
        assert self._ensemble is not None
        for key in keys:
            self._ensemble[key.slot] = key
        self._writer.defer(self._write_main)  # as write_ensemble

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
        self._cache.clear()
        self._metadata_json = None
        self._created = None
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
        if not self.read_only and not self._journaled:
            remove_stale(self._layout.journal_dir, self._in_main)

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
        cached = self._cache.peek(key)
        if cached is not None:
            return cached.model_steps
        self._writer.flush()
        path = self.trajectory_file(key)
        with open_for_reading(path, f"the file of trajectory {key}", self._fix_for(key)) as ds:
            return int(ds.pytams_model_steps)

    def trajectory_file(self, key: TrajectoryKey) -> Path:
        """The file of the trajectory ``key``."""
        return self._layout.trajectory_file(key)

    # ------------------------------------------------------------------ internals
    def _writable(self) -> None:
        """Refuse writes to a read-only store; hold the database's writer lock."""
        if self.read_only:
            msg = f"{self.path}: the database was opened read-only; open it with NetCDFStore"
            raise StorageError(msg)
        self._layout.lock()

    def _fix_for(self, key: TrajectoryKey) -> str:
        listed = self._ensemble is not None and key in self._ensemble
        where = (
            "is in the committed ensemble, so the run cannot go on without it"
            if listed
            else "was stored by the run"
        )
        return f"the trajectory {where}: {restore_advice(self.path)}"

    def _finish_clear(self) -> None:
        self._layout.clear()
        self._clearing = False

    def _journal_describes_ensemble(self, previous: IterationRecord | None) -> bool:
        """Whether the ensemble is that of the last write with ``previous``'s clones put in.

        What a journal file commits. O(k): pytams-core changes the ensemble between two
        iterations only by committing the previous one's clones.
        """
        if not self._main_has_ensemble or self._ensemble is None or previous is None:
            return False
        return all(self._ensemble[c.slot] == c for c in previous.clones)

    def _compact(self) -> None:
        """Rewrite ``tams.nc`` whole, then delete the journal files it replaces (rarely)."""
        self._write_main()
        self._writer.flush()  # tams.nc on disk before its journal files go
        remove_stale(self._layout.journal_dir, self._in_main)

    def _write_main(self) -> None:
        self._writer.defer(None)  # this write supersedes a deferred one
        self._in_main = len(self._iterations.records)
        self._main_has_ensemble = self._ensemble is not None
        self._journaled = 0
        main = MainFile(
            self._metadata_json,
            self._iterations,
            self._ensemble,
            self._created,
            self._versions,
            self._clearing,
        )
        self._writer.write(self.main_file, main.fill, MAIN_FORMAT)

    def _load(self) -> None:
        main = MainFile.read(self.main_file)
        self._metadata_json, self._iterations = main.metadata_json, main.iterations
        if self._metadata_json is not None:  # plain JSON: the units are a plain string
            self._time_units = time_units(json.loads(self._metadata_json))
        self._ensemble, self._created = main.ensemble, main.created
        self._versions, self._clearing = main.versions, main.clearing
        self._in_main = len(main.iterations.records)
        self._main_has_ensemble = main.ensemble is not None
        fix = restore_advice(self.path)
        journal = read_journal(self._layout.journal_dir, self._in_main, fix)
        if journal and self._ensemble is None:
            msg = f"{self.path}: journal files follow a {MAIN_FILE} without an ensemble; {fix}"
            raise DatabaseCorruptError(msg)
        for record in journal:  # each commits the clones of the iteration before it
            before = self._iterations.records[-1] if self._iterations.records else None
            if before is not None and self._ensemble is not None:
                commit_clones(self._ensemble, [before])
            self._iterations.append(record)
        self._journaled = len(journal)
