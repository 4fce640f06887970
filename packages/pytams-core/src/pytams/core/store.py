"""The storage interface of a run's database, and its in-memory reference implementation.

A `Store` persists what a `Database` needs to resume a run: metadata (config, seed, model),
trajectories, the iteration table (a journal, appended before an iteration's clones run) and
the ensemble membership (committed when an iteration's clones are all stored). Other stores
(pytams-io's netCDF store) register in the entry-point group ``pytams.stores``.

A store may also offer ``write_members(keys)``: put each key into its slot (``key.slot``) of
the committed ensemble and commit, the O(k) form of ``write_ensemble`` that a run uses after
each iteration (otherwise it passes the whole key list to ``write_ensemble``).

A store whose files the workers can reach may also offer ``worker_files()``, returning a
`TrajectoryFiles`: then the workers read a clone's parent and write each finished trajectory
themselves, and only a `StoredTrajectory` (key, maximum, convergence) travels to the driver.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pytams.core.trajectory import Trajectory, TrajectoryKey


@dataclass(frozen=True, slots=True, kw_only=True)
class IterationRecord:
    """One row of the iteration table.

    Attributes:
        index: Iteration number j (0-based).
        level: z_j, the k-th smallest maximum score.
        killed: Keys of the trajectories killed (every one with max score <= level).
        parents: Keys of the parents their clones branch from, in the same order.
        weight: W_{j+1} = W_j (1 - l_j / N), after this iteration.
    """

    index: int
    level: float
    killed: tuple[TrajectoryKey, ...]
    parents: tuple[TrajectoryKey, ...]
    weight: float

    @property
    def clones(self) -> tuple[TrajectoryKey, ...]:
        """Keys of the clones that replace the killed trajectories."""
        return tuple(key.next_generation() for key in self.killed)


@dataclass(frozen=True, slots=True)
class StoredTrajectory:
    """What the driver learns of a trajectory a worker stored itself (no states)."""

    key: TrajectoryKey
    max_score: float
    converged: bool
    model_steps: int

    @classmethod
    def of(cls, trajectory: Trajectory) -> StoredTrajectory:
        """The summary of ``trajectory``."""
        return cls(
            trajectory.key, trajectory.max_score, trajectory.converged, trajectory.model_steps
        )


@runtime_checkable
class TrajectoryFiles(Protocol):
    """A database's trajectories as a worker reaches them (pickled once per run to each worker).

    Both methods run in workers, on the file system they share with the driver. ``write`` is
    atomic: a worker killed while writing leaves no trajectory that a resume trusts.
    """

    def read(self, key: TrajectoryKey) -> Trajectory:
        """Read the stored trajectory ``key``, bit for bit."""

    def write(self, trajectory: Trajectory) -> None:
        """Store a finished trajectory, durably, before returning."""


@runtime_checkable
class Store(Protocol):
    """Where a database lives. Every method is atomic: a crash leaves the old or the new data."""

    def read_metadata(self) -> dict[str, Any] | None:
        """The run's metadata, or None for an empty store."""

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Record the run's metadata (config, seed, model name, format version)."""

    def write_trajectory(self, trajectory: Trajectory) -> None:
        """Store a finished trajectory (replacing one with the same key)."""

    def read_trajectory(self, key: TrajectoryKey) -> Trajectory:
        """Read one trajectory back, bit for bit."""

    def trajectory_keys(self) -> list[TrajectoryKey]:
        """Keys of every stored trajectory, in the ensemble or archived."""

    def has_trajectory(self, key: TrajectoryKey) -> bool:
        """Whether the trajectory ``key`` is stored."""

    def append_iteration(self, record: IterationRecord) -> None:
        """Append a row to the iteration table."""

    def read_iterations(self) -> list[IterationRecord]:
        """The iteration table."""

    def write_ensemble(self, keys: Sequence[TrajectoryKey]) -> None:
        """Commit the ensemble membership (one key per slot)."""

    def read_ensemble(self) -> list[TrajectoryKey] | None:
        """The committed ensemble, or None before the initial ensemble is complete."""

    def clear(self) -> None:
        """Delete everything (only on an explicit overwrite)."""

    def flush(self) -> None:
        """Wait until everything written is durable (a store that writes in the background)."""

    @property
    def location(self) -> Path | None:
        """The database directory, or None for a store that keeps no files."""


class MemoryStore:
    """A `Store` in memory: the reference implementation, and the default."""

    _metadata: dict[str, Any] | None
    _trajectories: dict[TrajectoryKey, Trajectory]
    _iterations: list[IterationRecord]
    _ensemble: list[TrajectoryKey] | None

    def __init__(self) -> None:
        self.clear()

    def read_metadata(self) -> dict[str, Any] | None:
        """See `Store`."""
        return copy.deepcopy(self._metadata)

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        """See `Store`."""
        self._metadata = copy.deepcopy(dict(metadata))

    def write_trajectory(self, trajectory: Trajectory) -> None:
        """See `Store`."""
        self._trajectories[trajectory.key] = trajectory

    def read_trajectory(self, key: TrajectoryKey) -> Trajectory:
        """See `Store`."""
        return self._trajectories[key]

    def trajectory_keys(self) -> list[TrajectoryKey]:
        """See `Store`."""
        return sorted(self._trajectories)

    def has_trajectory(self, key: TrajectoryKey) -> bool:
        """See `Store`."""
        return key in self._trajectories

    def append_iteration(self, record: IterationRecord) -> None:
        """See `Store`."""
        self._iterations.append(record)

    def read_iterations(self) -> list[IterationRecord]:
        """See `Store`."""
        return list(self._iterations)

    def write_ensemble(self, keys: Sequence[TrajectoryKey]) -> None:
        """See `Store`."""
        self._ensemble = list(keys)

    def read_ensemble(self) -> list[TrajectoryKey] | None:
        """See `Store`."""
        return None if self._ensemble is None else list(self._ensemble)

    def write_members(self, keys: Sequence[TrajectoryKey]) -> None:
        """Put each key into its slot of the committed ensemble (see the module)."""
        assert self._ensemble is not None
        for key in keys:
            self._ensemble[key.slot] = key

    def flush(self) -> None:
        """See `Store`: nothing to wait for."""

    @property
    def location(self) -> Path | None:
        """See `Store`: None (in memory)."""
        return None

    def clear(self) -> None:
        """See `Store`."""
        self._metadata = None
        self._trajectories = {}
        self._iterations = []
        self._ensemble = None
