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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.core.trajectory import Trajectory, TrajectoryKey, join
from pytams.io import _files
from pytams.io._cache import FileTimeline
from pytams.io._columns import UNREAD, PathRoots
from pytams.io._files import open_for_reading
from pytams.io._layout import Layout, restore_advice
from pytams.io._trajectory_file import (
    fill_trajectory_file,
    own_part,
    read_trajectory_file,
    shared_prefix,
    trajectory_format,
)
from pytams.io._trust import UntrustedPickleError

# a file whose noises and states take fewer bytes is read whole by `WorkerFiles.read_parent`:
# reading them costs less than opening the file a second time for the few it needs (on the
# development machine, from the page cache: an opening 0.26 ms, 408 KB of states 0.09 ms)
READ_WHOLE_BELOW = 2**20
# the times and scores of the files this process read lately (`FileTimeline`): some 64 bytes
# a snapshot, so 32 MiB keep half a million snapshots of parent chains
TIMELINES = FileTimeline(32 * 2**20)


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
        layout, roots = self._layout(), self._roots()
        fix = restore_advice(self.path)

        def read_part(part_key: TrajectoryKey) -> tuple[Trajectory, int]:
            path = layout.trajectory_file(part_key)
            return read_key_file(path, part_key, roots, self.allow_pickle, fix)

        return assemble(key, read_part)

    def read_parent(self, key: TrajectoryKey, level: float) -> Trajectory:
        """The trajectory ``key`` as its clone above ``level`` needs it (`pytams.core.run_unit`).

        Every time and score (they give the branching point and the clone's maximum), and the
        noises and states from the last stored state at or before the branching point to it;
        the other noises and states may be `pytams.io._columns.UNREAD`. So a clone's worker
        reads one stored state of its parent, not every state of the prefix it shares (a file
        of small states, under `READ_WHOLE_BELOW` bytes, is read whole: cheaper than opening
        it twice). The times and scores of a file read before in this process are not read
        again (`TIMELINES`).

        Raises:
            StorageError: When this worker does not see the database directory.
            DatabaseCorruptError: When a file is missing or damaged (naming it).
            ValueError: When the trajectory never rises above ``level``.
        """
        layout, roots = self._layout(), self._roots()
        fix = restore_advice(self.path)
        chain: list[tuple[TrajectoryKey, int, int]] = []  # each file, newest first: its key,
        # the first snapshot of the whole it holds, and the end of those it gives the whole

        def read_part(part_key: TrajectoryKey, wanted: range, small: int) -> tuple[Trajectory, int]:
            path = layout.trajectory_file(part_key)
            return read_key_file(path, part_key, roots, self.allow_pickle, fix, wanted, small)

        def read_scores(part_key: TrajectoryKey) -> tuple[Trajectory, int]:
            part, shared = TIMELINES.read(
                layout.trajectory_file(part_key),
                self.allow_pickle,
                lambda: read_part(part_key, range(0), READ_WHOLE_BELOW),
            )
            # its clone (read before it) holds the whole's snapshots after its shared prefix
            end = chain[-1][1] if chain else shared + len(part)
            chain.append((part_key, shared, end))
            return part, shared

        whole = assemble(key, read_scores)
        branch = whole.first_above(level)
        start = whole.last_stored_state(branch)
        for part_key, first, end in chain:
            low, high = max(start, first), min(branch, end - 1)
            needed = range(low, high + 1)
            if all(whole.states[i] is not UNREAD and whole.noises[i] is not UNREAD for i in needed):
                continue  # none, or read already (a file of small states is read whole)
            part, _ = read_part(part_key, range(low - first, high - first + 1), 0)
            for index in needed:
                whole.noises[index] = part.noises[index - first]
                whole.states[index] = part.states[index - first]
        return whole

    def write(self, trajectory: Trajectory) -> None:
        """See `pytams.core.store.TrajectoryFiles`: durable when it returns.

        A clone's file holds its own snapshots only (`shared_prefix`): the rest is its parent's,
        read from the parent's file.

        Raises:
            StorageError: When this worker does not see the database directory.
        """
        target = self._layout().trajectory_file(trajectory.key)
        roots, units, shared = self._roots(), self.time_units, shared_prefix(trajectory)
        own = own_part(trajectory, shared)
        if any(value is UNREAD for value in (*own.noises, *own.states)):
            msg = f"trajectory {trajectory.key}: a snapshot of its own was left unread"
            raise AssertionError(msg)
        tmp = _files.write_temporary(  # the module's, as for commit
            target,
            lambda ds: fill_trajectory_file(ds, trajectory, roots, units, shared=shared),
            trajectory_format(own),
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
    path: Path,
    key: TrajectoryKey,
    roots: PathRoots,
    allow_pickle: bool,
    fix: str,
    wanted: range | None = None,
    whole_below: int = 0,
) -> tuple[Trajectory, int]:
    """The snapshots in the file ``path`` of trajectory ``key`` and how many its parent holds.

    See `pytams.io._trajectory_file.read_trajectory_file` (``wanted``, ``whole_below``).

    Raises:
        DatabaseCorruptError: When the file is missing, damaged or holds another trajectory.
        UntrustedPickleError: When it holds pickles and ``allow_pickle`` is false.
    """
    try:
        with open_for_reading(path, f"the file of trajectory {key}", fix) as ds:
            part, shared = read_trajectory_file(
                ds, roots, allow_pickle=allow_pickle, wanted=wanted, whole_below=whole_below
            )
    except UntrustedPickleError as exc:
        raise UntrustedPickleError(f"{path}: {exc}") from None
    if part.key != key:
        msg = f"{path}: holds trajectory {part.key}, not {key}; {fix}"
        raise DatabaseCorruptError(msg)
    if shared and part.parent is None:
        msg = f"{path}: leaves {shared} snapshots to a parent it does not name; {fix}"
        raise DatabaseCorruptError(msg)
    return part, shared


def assemble(
    key: TrajectoryKey,
    read_part: Callable[[TrajectoryKey], tuple[Trajectory, int]],
    known: Callable[[TrajectoryKey], Trajectory | None] = lambda key: None,
    keep: Callable[[Trajectory], None] = lambda trajectory: None,
) -> Trajectory:
    """The whole trajectory ``key``: its file's snapshots after its ancestors' shared prefix.

    Follows the parents (``read_part``) until a whole file or a trajectory already ``known``
    (a cache), then joins from the oldest down, handing each whole ancestor to ``keep``.

    Raises:
        DatabaseCorruptError: When a parent is shorter than the prefix its clone shares.
    """
    chain: list[tuple[Trajectory, int]] = []
    whole = known(key)
    while whole is None:
        part, shared = read_part(key)
        if not shared:
            whole = part
            break
        chain.append((part, shared))
        assert part.parent is not None  # read_key_file checks it
        key = part.parent
        whole = known(key)
    for part, shared in reversed(chain):
        keep(whole)
        if len(whole) < shared:
            msg = (
                f"trajectory {part.key} shares {shared} snapshots with its parent {whole.key}, "
                f"which has {len(whole)}: the database is damaged; restore it from a backup"
            )
            raise DatabaseCorruptError(msg)
        prefix = whole.clone_prefix(part.key, shared - 1)
        whole = Trajectory(
            key=part.key,
            parent=part.parent,
            branch_index=part.branch_index,
            times=join(prefix.times, part.times),
            scores=join(prefix.scores, part.scores),
            noises=join(prefix.noises, part.noises),
            states=join(prefix.states, part.states),
            converged=part.converged,
            model_steps=part.model_steps,
        )
    return whole
