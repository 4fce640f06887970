"""The io tests' OU model, in a file whose import arms a kill of the worker while it writes.

When ``PYTAMS_TEST_KILL_MARKER`` names a file, the first process (driver or worker) that
commits a trajectory file after importing this model consumes the marker, leaves a half
written temporary file (as a process killed mid-write does) and kills itself (SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from pytams.io import _files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ou import OrnsteinUhlenbeck  # type: ignore[import-not-found]  # from its file

__all__ = ["OrnsteinUhlenbeck"]

_commit = _files.commit


def _dying_commit(tmp: Path, target: Path) -> None:
    marker = os.environ.get("PYTAMS_TEST_KILL_MARKER")
    if marker and target.parent.name == "trajectories":
        with contextlib.suppress(FileNotFoundError):
            Path(marker).unlink()  # only one process wins the marker
            tmp.write_bytes(tmp.read_bytes()[:100])  # half a file, never renamed
            os.kill(os.getpid(), signal.SIGKILL)
    _commit(tmp, target)


if _files.commit is _commit:
    _files.commit = _dying_commit
