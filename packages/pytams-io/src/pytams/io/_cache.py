"""The trajectories a store wrote or read last, kept in memory within a budget of bytes."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from pytams.core.trajectory import Trajectory, TrajectoryKey


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
