"""The layout of a database directory: its files' names, its writer lock, what clearing deletes.

Layout of a database directory::

    tams.nc                      run metadata, iteration table and ensemble membership
    journal/<index>.nc           an iteration since tams.nc was last rewritten
    trajectories/<key>.nc        one finished trajectory: time, score, noise, state
    trajectories/trajSSSSSS_GGGG the working directory of a segment (its model's files)
    .pytams.lock                 the writer lock
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.core.trajectory import TrajectoryKey
from pytams.core.workspace import WORKDIR_PATTERN
from pytams.io._files import LOCK_FILE, is_stale_temp, is_temp, lock_database, sync_dir

#: Version of the files' layout this package writes (attribute ``pytams_format_version`` of
#: every file), not the version of the run's metadata: 2 since a clone's file may hold only its
#: own snapshots (``pytams_shared_prefix``); 1 when every trajectory file was whole.
FILE_FORMAT_VERSION = 2
#: The versions this package reads.
READABLE_VERSIONS = (1, 2)
MAIN_FILE = "tams.nc"
TRAJECTORY_DIR = "trajectories"
JOURNAL_DIR = "journal"
_KEY_FILE = re.compile(r"^(\d+)-(\d+)\.nc$")
_JOURNAL_FILE = re.compile(r"^\d{9}\.nc$")


def restore_advice(path: Path) -> str:
    """What to do about a damaged database at ``path`` (the end of every such error)."""
    return (
        f"restore {path} from a backup, or move that directory away (pytams never deletes a "
        "damaged database) and start the run again"
    )


class Layout:
    """The files of one database directory.

    Args:
        path: The database directory (created by `lock`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.main_file = path / MAIN_FILE
        self.trajectory_dir = path / TRAJECTORY_DIR
        self.journal_dir = path / JOURNAL_DIR
        self._journal_dir_made = False
        self._locked = False  # the writer lock is held and the directory exists
        self._trajectory_dir_made = False

    def trajectory_file(self, key: TrajectoryKey) -> Path:
        """The file of the trajectory ``key``."""
        return self.trajectory_dir / f"{key}.nc"

    def stored_keys(self) -> list[TrajectoryKey]:
        """The keys of the trajectory files on disk (unsorted)."""
        if not self.trajectory_dir.is_dir():
            return []
        keys = []
        for entry in os.scandir(self.trajectory_dir):
            match = _KEY_FILE.match(entry.name)
            if match:
                keys.append(TrajectoryKey(int(match[1]), int(match[2])))
        return keys

    def lock(self) -> None:
        """Create the directory if needed and hold its writer lock (once)."""
        if self._locked:
            return
        if not self.path.is_dir():
            self.path.mkdir(parents=True, exist_ok=True)
            sync_dir(self.path.parent)
        lock_database(self.path)
        self._locked = True

    def make_trajectory_dir(self) -> None:
        """Create the directory of the trajectory files (once)."""
        if not self._trajectory_dir_made:
            self.trajectory_dir.mkdir(parents=True, exist_ok=True)
            sync_dir(self.path)
            self._trajectory_dir_made = True

    def make_journal_dir(self) -> None:
        """Create the directory of the journal files (once)."""
        if not self._journal_dir_made:
            self.journal_dir.mkdir(parents=True, exist_ok=True)
            sync_dir(self.path)
            self._journal_dir_made = True

    def check(self, *, read_only: bool) -> None:
        """Refuse a location that is not a database directory (nor one to be).

        Raises:
            StorageError: When the path is a file, or a directory of other files.
            DatabaseCorruptError: When trajectory files are there without ``tams.nc``.
        """
        if self.path.exists() and not self.path.is_dir():
            msg = f"{self.path} is a file, not a database directory; choose another [database] path"
            raise StorageError(msg)
        if not self.path.is_dir() or self.main_file.exists():
            return
        foreign = [
            p.name
            for p in self.path.iterdir()
            if not (p.name in (TRAJECTORY_DIR, JOURNAL_DIR) and p.is_dir())
            and not is_temp(p)
            and p.name != LOCK_FILE
        ]
        if not read_only and self.trajectory_dir.is_dir() and self.stored_keys():
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

    def remove_stale_temporaries(self) -> None:
        """Delete the temporary files of killed writers (never a database file)."""
        for directory in (self.path, self.trajectory_dir, self.journal_dir):
            if directory.is_dir():
                for entry in directory.iterdir():
                    if is_stale_temp(entry) and entry.is_file():
                        with contextlib.suppress(OSError):
                            entry.unlink()

    def clear(self) -> None:
        """Delete the trajectory files, temporary files and segments' working directories.

        Files that are not the database's are left alone.
        """
        for directory in (self.trajectory_dir, self.journal_dir, self.path):
            if not directory.is_dir():
                continue
            for entry in list(directory.iterdir()):
                ours = (
                    (directory == self.trajectory_dir and _KEY_FILE.match(entry.name))
                    or (directory == self.journal_dir and _JOURNAL_FILE.match(entry.name))
                    or is_temp(entry)
                )
                if ours and entry.is_file():
                    entry.unlink()
                elif directory == self.trajectory_dir and WORKDIR_PATTERN.match(entry.name):
                    shutil.rmtree(entry)  # a segment's working directory (its model's files)
