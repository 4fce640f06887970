"""Where the segments of a run work: one directory each, inside the database directory.

``<database>/trajectories/trajSSSSSS_GGGG`` (slot, generation), pyTAMS's layout; an in-memory
run uses a temporary directory standing for the database, removed at the end.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from pytams.core.store import Store
from pytams.core.trajectory import TrajectoryKey

WORKDIR_DIR = "trajectories"
WORKDIR_PATTERN = re.compile(r"^traj\d{6,}_\d{4,}$")


def workdir_name(key: TrajectoryKey) -> str:
    """The working directory of a segment, as pyTAMS names it: ``trajSSSSSS_GGGG``."""
    return f"traj{key.slot:06d}_{key.generation:04d}"


class ScratchDirectory:
    """A temporary directory made on first use and removed at exit (in-memory runs)."""

    def __init__(self) -> None:
        self._path: Path | None = None

    def __enter__(self) -> ScratchDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None

    @property
    def path(self) -> Path:
        """The directory (created now if it does not exist yet)."""
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="pytams-run-"))
        return self._path


def run_directory(store: Store, scratch: ScratchDirectory, repeat: int) -> Path:
    """Where a repeat's segments work: its database directory, or a temporary one."""
    if store.location is not None:
        return Path(store.location).absolute()
    return scratch.path / f"repeat-{repeat:04d}"
