"""``pytams run`` in a process that kills itself (SIGKILL) at a chosen write of its database.

Usage: ``python killable.py KILL_AT PHASE -- <pytams run arguments>``; KILL_AT 0 never kills.
PHASE says where the KILL_AT-th file write dies:

- ``partial``: its temporary file is half written;
- ``unrenamed``: its temporary file is complete and synced, not yet renamed;
- ``renamed``: right after the rename (before the directory is synced).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytams.core.cli import main
from pytams.io import _files


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(kill_at: int, phase: str) -> None:
    """Patch the file layer of pytams-io to die at the ``kill_at``-th write."""
    writes = [0]
    commits = [0]
    write_temporary = _files.write_temporary
    commit = _files.commit

    def patched_write(target: Path, fill: Callable[[Any], None], fmt: str = "NETCDF4") -> Path:
        writes[0] += 1
        if writes[0] == kill_at and phase == "partial":
            tmp = _files.temp_path(target)
            with open(tmp, "wb") as stream:
                stream.write(b"\x89HDF\r\n\x1a\n" + bytes(200))
            die()
        return write_temporary(target, fill, fmt)

    def patched_commit(tmp: Path, target: Path) -> None:
        commits[0] += 1
        if commits[0] == kill_at and phase == "unrenamed":
            _files.sync_file(tmp)
            die()
        commit(tmp, target)
        if commits[0] == kill_at and phase == "renamed":
            die()

    _files.write_temporary = patched_write
    _files.commit = patched_commit


if __name__ == "__main__":
    kill_at, phase, separator, *arguments = sys.argv[1:]
    assert separator == "--"
    if int(kill_at) > 0:
        arm(int(kill_at), phase)
    sys.exit(main(arguments))
