"""The database of a run: ensemble, archive and iteration table, over a `Store`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytams.core.errors import StorageError
from pytams.core.store import IterationRecord, MemoryStore, Store
from pytams.core.trajectory import Trajectory, TrajectoryKey

FORMAT_VERSION = 2
"""The format of a run's metadata: 2 records how the run ended (``outcome``); 1 did not."""


class Database:
    """A run's state: what TAMS reads to continue and what users read to explore.

    The ensemble is known by its keys; its trajectories are read from the store when asked
    for (`member`, one at a time: what a run's driver uses, so it holds no states beyond the
    store's own cache), or all at once by `ensemble` (kept once read: what explorers use).
    Every member is read once at opening, so a missing or damaged file is reported there.

    Args:
        store: Where the data lives (default: a new `MemoryStore`).
    """

    def __init__(self, store: Store | None = None) -> None:
        self.store: Store = MemoryStore() if store is None else store
        check_format(self.store)
        self._iterations = self.store.read_iterations()
        self._keys = self.store.read_ensemble()
        self._ensemble: list[Trajectory] | None = None  # read on first use
        for key in self._keys or []:
            self.store.read_trajectory(key)  # fails now on a missing or damaged member

    @property
    def metadata(self) -> dict[str, Any] | None:
        """Config, seed, model name, format version and outcome; None for a new database."""
        return self.store.read_metadata()

    @property
    def outcome(self) -> dict[str, Any] | None:
        """How the run ended (see `record_outcome`); None while it runs or after a kill."""
        outcome = (self.metadata or {}).get("outcome")
        return dict(outcome) if isinstance(outcome, dict) else None

    @property
    def ensemble(self) -> list[Trajectory] | None:
        """The current ensemble in slot order (None before the initial ensemble is complete).

        Read from the store on first use and kept (with every state: a run's driver reads
        `member` instead). The list is the database's own, updated in place as clones are
        committed: copy it to keep a snapshot.
        """
        if self._keys is not None and self._ensemble is None:
            self._ensemble = [self.store.read_trajectory(k) for k in self._keys]
        return self._ensemble

    @property
    def member_keys(self) -> list[TrajectoryKey] | None:
        """The keys of the current ensemble in slot order (the database's own list: read only)."""
        return self._keys

    def member(self, slot: int) -> Trajectory:
        """The trajectory in ``slot`` of the current ensemble, read from the store."""
        assert self._keys is not None
        return self.store.read_trajectory(self._keys[slot])

    @property
    def iterations(self) -> list[IterationRecord]:
        """The iteration table."""
        return list(self._iterations)

    @property
    def iteration_count(self) -> int:
        """The number of iterations in the table (no copy of it)."""
        return len(self._iterations)

    @property
    def last_iteration(self) -> IterationRecord | None:
        """The last iteration of the table, None before the first."""
        return self._iterations[-1] if self._iterations else None

    @property
    def weight(self) -> float:
        """The current weight W_J (1.0 before the first iteration)."""
        return self._iterations[-1].weight if self._iterations else 1.0

    @property
    def pending(self) -> IterationRecord | None:
        """The last iteration if its clones are not all committed to the ensemble yet."""
        if not self._iterations or self._keys is None:
            return None
        last = self._iterations[-1]
        return None if set(last.clones) <= set(self._keys) else last

    def start(self, metadata: dict[str, Any]) -> None:
        """Record the metadata of a new run."""
        self.store.write_metadata({**metadata, "format_version": FORMAT_VERSION})

    def record_outcome(self, outcome: Mapping[str, Any] | None, **extra: Any) -> None:
        """Store how the run ended in its metadata, or clear it (None: the run goes on).

        Args:
            outcome: ``stop_reason``, ``probability``, ``std_error``, ``ci_low``, ``ci_high``,
                ``iterations``, ``converged``, ``model_steps``, ``wall_time`` and ``complete``
                (`pytams.core.TAMSResult.outcome`); ``{"stop_reason": "interrupted",
                "complete": False}`` after an interrupt.
            extra: Other metadata entries to write at the same time (e.g. ``diagnostics``).
        """
        metadata = self.metadata
        if metadata is None:
            return  # no run here: nothing to end
        if outcome is None and "outcome" not in metadata and not extra:
            return  # nothing to clear
        metadata.pop("outcome", None)
        if outcome is not None:
            metadata["outcome"] = dict(outcome)
        self.store.write_metadata({**metadata, **extra})

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
        current = set(self._keys or [])
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

    def commit_ensemble(self, keys: Sequence[TrajectoryKey]) -> None:
        """Make the trajectories ``keys`` (stored already, in slot order) the current ensemble."""
        self._keys = list(keys)
        self.store.write_ensemble(self._keys)
        self._ensemble = None

    def commit_clones(self, clones: Sequence[TrajectoryKey]) -> None:
        """Put each clone (stored already) in its slot of the ensemble, and commit.

        O(k) work per iteration: the key list (and the ensemble, if read) is updated in place,
        and so is the store's if it offers ``write_members`` (`pytams.core.store`); otherwise
        it receives the whole key list.
        """
        assert self._keys is not None
        for key in clones:
            self._keys[key.slot] = key
            if self._ensemble is not None:
                self._ensemble[key.slot] = self.store.read_trajectory(key)
        write_members = getattr(self.store, "write_members", None)
        if callable(write_members):
            write_members(clones)
        else:
            self.store.write_ensemble(self._keys)


def check_format(store: Store) -> None:
    """Refuse a database written in a newer format than this pytams-core reads.

    Older formats are read as they are (version 1 lacks the stored outcome).

    Raises:
        StorageError: Naming both versions and the fix.
    """
    metadata = store.read_metadata()
    found = (metadata or {}).get("format_version", FORMAT_VERSION)
    if not isinstance(found, int) or found <= FORMAT_VERSION:
        return
    where = store.location or "the database (in memory)"
    msg = (
        f"{where} has pytams database format version {found}, and this pytams-core reads "
        f"versions up to {FORMAT_VERSION}: it was written by a newer pytams; upgrade pytams "
        "(pip install --upgrade pytams-core pytams-io) to read or resume it, or choose "
        "another [database] path"
    )
    raise StorageError(msg)
