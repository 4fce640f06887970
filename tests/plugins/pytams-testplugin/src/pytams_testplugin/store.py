"""`PickleDirStore`: a database as a directory of pickles (``[database] engine = "pickledir"``).

Every write goes to a temporary file renamed into place, so a crash leaves the old or the new
data. (Pickles execute code when read: fine for a test plugin, not for sharing databases.)
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytams.core import IterationRecord, Trajectory, TrajectoryKey


class PickleDirStore:
    """A `pytams.core.Store` in a directory: metadata, iterations, ensemble, one file per
    trajectory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def location(self) -> Path:
        """See `pytams.core.Store`."""
        return self.path

    def flush(self) -> None:
        """See `pytams.core.Store`: every write is already durable."""

    def _read(self, name: str, default: Any) -> Any:
        file = self.path / name
        if not file.exists():
            return default
        with file.open("rb") as handle:
            return pickle.load(handle)

    def _write(self, name: str, value: Any) -> None:
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary = file.with_name(file.name + ".tmp")
        with temporary.open("wb") as handle:
            pickle.dump(value, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, file)

    def read_metadata(self) -> dict[str, Any] | None:
        """See `pytams.core.Store`."""
        metadata: dict[str, Any] | None = self._read("metadata.pickle", None)
        return metadata

    def write_metadata(self, metadata: Mapping[str, Any]) -> None:
        """See `pytams.core.Store`."""
        self._write("metadata.pickle", dict(metadata))

    def write_trajectory(self, trajectory: Trajectory) -> None:
        """See `pytams.core.Store`."""
        self._write(f"trajectories/{trajectory.key}.pickle", trajectory)

    def read_trajectory(self, key: TrajectoryKey) -> Trajectory:
        """See `pytams.core.Store`."""
        trajectory: Trajectory = self._read(f"trajectories/{key}.pickle", None)
        if trajectory is None:
            raise KeyError(key)
        return trajectory

    def trajectory_keys(self) -> list[TrajectoryKey]:
        """See `pytams.core.Store`."""
        folder = self.path / "trajectories"
        if not folder.is_dir():
            return []
        return sorted(TrajectoryKey.parse(p.stem) for p in folder.glob("*.pickle"))

    def has_trajectory(self, key: TrajectoryKey) -> bool:
        """See `pytams.core.Store`."""
        return (self.path / "trajectories" / f"{key}.pickle").exists()

    def append_iteration(self, record: IterationRecord) -> None:
        """See `pytams.core.Store`."""
        self._write("iterations.pickle", [*self.read_iterations(), record])

    def read_iterations(self) -> list[IterationRecord]:
        """See `pytams.core.Store`."""
        records: list[IterationRecord] = self._read("iterations.pickle", [])
        return records

    def write_ensemble(self, keys: Sequence[TrajectoryKey]) -> None:
        """See `pytams.core.Store`."""
        self._write("ensemble.pickle", list(keys))

    def read_ensemble(self) -> list[TrajectoryKey] | None:
        """See `pytams.core.Store`."""
        keys: list[TrajectoryKey] | None = self._read("ensemble.pickle", None)
        return keys

    def clear(self) -> None:
        """See `pytams.core.Store`."""
        for name in ("metadata.pickle", "iterations.pickle", "ensemble.pickle"):
            (self.path / name).unlink(missing_ok=True)
        for file in (self.path / "trajectories").glob("*.pickle"):
            file.unlink()
