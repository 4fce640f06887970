"""The database of a run: ensemble, archive and iteration table, over a `Store`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytams.core.store import IterationRecord, MemoryStore, Store
from pytams.core.trajectory import Trajectory, TrajectoryKey

FORMAT_VERSION = 1


class Database:
    """A run's state: what TAMS reads to continue and what users read to explore.

    The ensemble is cached in memory (the algorithm ranks and branches from it); archived
    (killed) trajectories are read from the store on demand.

    Args:
        store: Where the data lives (default: a new `MemoryStore`).
    """

    def __init__(self, store: Store | None = None) -> None:
        self.store: Store = MemoryStore() if store is None else store
        self._iterations = self.store.read_iterations()
        keys = self.store.read_ensemble()
        self._ensemble = None if keys is None else [self.store.read_trajectory(k) for k in keys]

    @property
    def metadata(self) -> dict[str, Any] | None:
        """Config, seed, model name and format version; None for a new database."""
        return self.store.read_metadata()

    @property
    def ensemble(self) -> list[Trajectory] | None:
        """The current ensemble in slot order (None before the initial ensemble is complete)."""
        return self._ensemble

    @property
    def iterations(self) -> list[IterationRecord]:
        """The iteration table."""
        return list(self._iterations)

    @property
    def weight(self) -> float:
        """The current weight W_J (1.0 before the first iteration)."""
        return self._iterations[-1].weight if self._iterations else 1.0

    @property
    def pending(self) -> IterationRecord | None:
        """The last iteration if its clones are not all committed to the ensemble yet."""
        if not self._iterations or self._ensemble is None:
            return None
        last = self._iterations[-1]
        current = {t.key for t in self._ensemble}
        return None if set(last.clones) <= current else last

    def start(self, metadata: dict[str, Any]) -> None:
        """Record the metadata of a new run."""
        self.store.write_metadata({**metadata, "format_version": FORMAT_VERSION})

    def stored_keys(self) -> set[TrajectoryKey]:
        """Keys of every stored trajectory."""
        return set(self.store.trajectory_keys())

    def has_trajectory(self, key: TrajectoryKey) -> bool:
        """Whether ``key`` is stored."""
        return self.store.has_trajectory(key)

    def trajectory(self, key: TrajectoryKey) -> Trajectory:
        """Any stored trajectory, in the ensemble or archived."""
        return self.store.read_trajectory(key)

    def archived(self) -> list[Trajectory]:
        """Every stored trajectory that is not in the ensemble (the killed ones)."""
        current = {t.key for t in self._ensemble or []}
        return [
            self.store.read_trajectory(k) for k in self.store.trajectory_keys() if k not in current
        ]

    def save_trajectory(self, trajectory: Trajectory) -> None:
        """Store a finished trajectory (not yet in the ensemble)."""
        self.store.write_trajectory(trajectory)

    def append_iteration(self, record: IterationRecord) -> None:
        """Journal an iteration before its clones run."""
        self.store.append_iteration(record)
        self._iterations.append(record)

    def commit_ensemble(self, ensemble: Sequence[Trajectory]) -> None:
        """Make ``ensemble`` (stored already) the current ensemble."""
        self.store.write_ensemble([t.key for t in ensemble])
        self._ensemble = list(ensemble)
