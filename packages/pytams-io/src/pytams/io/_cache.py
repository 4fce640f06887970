"""What a store or a worker read last, kept in memory within a budget of bytes.

`TrajectoryCache`: the trajectories a store wrote or read. `FileTimeline`: the times and
scores of trajectory files a worker process read, for the parent chains of its clones.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io._columns import UNREAD


class TrajectoryCache:
    """Recently used trajectories; the least recently used go first when over budget.

    Args:
        budget: Memory for the trajectories, in bytes (approximate).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._bytes = 0
        self._recent: OrderedDict[TrajectoryKey, tuple[Trajectory, int]] = OrderedDict()

    def get(self, key: TrajectoryKey) -> Trajectory | None:
        """The trajectory ``key`` (now the most recently used), or None."""
        if key not in self._recent:
            return None
        self._recent.move_to_end(key)
        return self._recent[key][0]

    def peek(self, key: TrajectoryKey) -> Trajectory | None:
        """The trajectory ``key``, or None, leaving the order of use alone."""
        entry = self._recent.get(key)
        return None if entry is None else entry[0]

    def add(self, trajectory: Trajectory) -> None:
        """Keep a trajectory (TAMS reads back what it just wrote), within the budget."""
        size = _size(trajectory)
        old = self._recent.pop(trajectory.key, None)
        if old is not None:
            self._bytes -= old[1]
        self._recent[trajectory.key] = (trajectory, size)
        self._bytes += size
        while self._bytes > self.budget and self._recent:
            _, (_, dropped) = self._recent.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        """Forget every trajectory."""
        self._recent.clear()
        self._bytes = 0


def _size(trajectory: Trajectory) -> int:
    """Approximate memory of a trajectory's columns, in bytes."""
    size = 64 * len(trajectory)
    for column in (trajectory.noises, trajectory.states):
        for value in column:
            if isinstance(value, np.ndarray):
                size += value.nbytes
    return size


class FileTimeline:
    """The times and scores of trajectory files read lately, while each file is unchanged.

    A clone's worker reads every file of its parent's chain for their times and scores (the
    branching point, the clone's maximum); clones of one iteration share most of those chains,
    and deep ones grow with the iterations. Kept here, in the worker process, a chain costs a
    ``stat`` per file rather than an opening. What is kept has no noise or state (those read
    are `UNREAD`), so a model never receives an array this keeps. A file is written once, by
    an atomic rename: its inode, size and modification time tell whether a kept copy still
    is its content (a database deleted and made again at the same path is read anew).

    Args:
        budget: Memory for the kept files, in bytes (approximate).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._bytes = 0
        self._lock = threading.Lock()  # a dask worker runs tasks in several threads
        # (path, pickles allowed) -> (the file's identity, its part, its shared prefix, bytes)
        self._kept: OrderedDict[tuple[str, bool], tuple[tuple[int, int, int], Trajectory, int, int]]
        self._kept = OrderedDict()

    def read(
        self, path: Path, allow_pickle: bool, load: Callable[[], tuple[Trajectory, int]]
    ) -> tuple[Trajectory, int]:
        """The part ``load`` reads from ``path`` and its shared prefix, kept or read anew.

        The part returned is the caller's to change: its columns are new lists. Read anew,
        it holds what ``load`` read (noises and states as well); kept, they are `UNREAD`.
        """
        try:
            info = os.stat(path)
        except OSError:
            return load()  # a missing file: the reader's error names it
        identity = (info.st_ino, info.st_size, info.st_mtime_ns)
        name = (str(path), allow_pickle)
        with self._lock:
            entry = self._kept.get(name)
            if entry is not None and entry[0] == identity:
                self._kept.move_to_end(name)
                return _unread_copy(entry[1]), entry[2]
        part, shared = load()
        kept = _unread_copy(part)
        size = 64 * len(kept)
        with self._lock:
            old = self._kept.pop(name, None)
            if old is not None:
                self._bytes -= old[3]
            self._kept[name] = (identity, kept, shared, size)
            self._bytes += size
            while self._bytes > self.budget and self._kept:
                _, (_, _, _, dropped) = self._kept.popitem(last=False)
                self._bytes -= dropped
        return part, shared

    def clear(self) -> None:
        """Forget every file."""
        with self._lock:
            self._kept.clear()
            self._bytes = 0


def _unread_copy(part: Trajectory) -> Trajectory:
    """``part`` in new lists, every noise and state it holds `UNREAD` (None stays None)."""
    return Trajectory(
        key=part.key,
        parent=part.parent,
        branch_index=part.branch_index,
        times=list(part.times),
        scores=list(part.scores),
        noises=[None if value is None else UNREAD for value in part.noises],
        states=[None if value is None else UNREAD for value in part.states],
        converged=part.converged,
        model_steps=part.model_steps,
    )
