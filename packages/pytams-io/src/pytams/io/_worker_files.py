"""`WorkerFiles`: how workers read and write a database's trajectory files themselves.

A run's driver hands one `WorkerFiles` to every worker (in the run's context, pickled once per
run). A worker reads a clone's parent and writes each finished trajectory into
``trajectories/`` on the file system it shares with the driver, so a model's states never
travel to the driver; the driver alone writes ``tams.nc``. A write is atomic (temporary file,
fsync, rename, as every write of the store): a worker killed while writing leaves only a
temporary file, which no reader trusts and the next writer's opening deletes.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io import _files
from pytams.io._columns import PathRoots
from pytams.io._files import open_for_reading
from pytams.io._layout import Layout
from pytams.io._trajectory_file import (
    fill_trajectory_file,
    read_trajectory_file,
    trajectory_format,
)
from pytams.io._trust import UntrustedPickleError


@dataclass(frozen=True)
class WorkerFiles:
    """A database's trajectory files, as a worker reads and writes them (`TrajectoryFiles`).

    Args:
        path: The database directory (absolute), on a file system the workers share.
        time_units: The run's ``[model] time_units`` (the files' time attribute).
        allow_pickle: Read the pickles a trajectory file may hold (a run trusts its database).
    """

    path: Path
    time_units: str
    allow_pickle: bool = True

    def read(self, key: TrajectoryKey) -> Trajectory:
        """See `pytams.core.store.TrajectoryFiles`.

        Raises:
            StorageError: When this worker does not see the database directory.
            DatabaseCorruptError: When the file is missing or damaged (naming it).
        """
        layout = self._layout()
        fix = (
            f"restore {self.path} from a backup, or move that directory away (pytams never "
            "deletes a damaged database) and start the run again"
        )
        path = layout.trajectory_file(key)
        return read_key_file(path, key, self._roots(), self.allow_pickle, fix)

    def write(self, trajectory: Trajectory) -> None:
        """See `pytams.core.store.TrajectoryFiles`: durable when it returns.

        Raises:
            StorageError: When this worker does not see the database directory.
        """
        target = self._layout().trajectory_file(trajectory.key)
        roots, units = self._roots(), self.time_units
        tmp = _files.write_temporary(  # the module's, as for commit
            target,
            lambda ds: fill_trajectory_file(ds, trajectory, roots, units),
            trajectory_format(trajectory),
        )
        _files.commit(tmp, target)  # the module's: crash tests watch every commit

    def _layout(self) -> Layout:
        """The database's layout, once this worker is known to see its trajectory directory."""
        layout = Layout(self.path)
        if not layout.trajectory_dir.is_dir():
            msg = (
                f"worker on {socket.gethostname()} does not see the database directory "
                f"{layout.trajectory_dir} that the run's driver made: put the database on a "
                "file system that the driver and every worker share ([database] path, "
                "pytams run --database), as a cluster's home or scratch file system is"
            )
            raise StorageError(msg)
        return layout

    def _roots(self) -> PathRoots:
        return PathRoots(self.path)


def read_key_file(
    path: Path, key: TrajectoryKey, roots: PathRoots, allow_pickle: bool, fix: str
) -> Trajectory:
    """Read the trajectory ``key`` from its file ``path``, checking that it holds that key.

    Raises:
        DatabaseCorruptError: When the file is missing, damaged or holds another trajectory.
        UntrustedPickleError: When it holds pickles and ``allow_pickle`` is false.
    """
    try:
        with open_for_reading(path, f"the file of trajectory {key}", fix) as ds:
            trajectory = read_trajectory_file(ds, roots, allow_pickle=allow_pickle)
    except UntrustedPickleError as exc:
        raise UntrustedPickleError(f"{path}: {exc}") from None
    if trajectory.key != key:
        msg = f"{path}: holds trajectory {trajectory.key}, not {key}; {fix}"
        raise DatabaseCorruptError(msg)
    return trajectory
