"""The iteration journal: ``journal/<index>.nc``, one small file per iteration.

``tams.nc`` is rewritten whole only at compaction points (`compaction_due`: rarer as the run
grows, so its bytes per iteration stay bounded); in between, each iteration appends one
journal file holding its row of the iteration table (the same variables as ``tams.nc``'s
table, `pytams.io._iterations`). A journal file of iteration j also commits the clones of
iteration j - 1 to the ensemble: pytams-core journals an iteration only once the previous
one's clones are committed. Files of iterations that ``tams.nc`` already holds are stale
(a compaction was interrupted before deleting them) and are ignored, then deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.errors import DatabaseCorruptError
from pytams.core.store import IterationRecord
from pytams.core.trajectory import TrajectoryKey
from pytams.io import _cdf5 as cdf5
from pytams.io._columns import write_data
from pytams.io._files import open_for_reading
from pytams.io._iterations import IterationTable, define_iterations, read_iterations
from pytams.io._layout import FILE_FORMAT_VERSION
from pytams.io._sentinel import check_end, define_end

JOURNAL_FORMAT = cdf5.DATA_MODEL
_ENTRY = re.compile(r"^(\d{9})\.nc$")
_MIN_BETWEEN_COMPACTIONS = 100


def entry_file(directory: Path, index: int) -> Path:
    """The journal file of iteration ``index``."""
    return directory / f"{index:09d}.nc"


def compaction_due(journaled: int, in_main: int, ntrajectories: int) -> bool:
    """Whether ``tams.nc`` is rewritten now rather than a journal file appended.

    After ``journaled`` journal files since ``tams.nc`` was written with ``in_main``
    iterations: at least 100, a quarter of those iterations, and N / 100. A rewrite costs
    O(N + J) bytes, so each iteration pays O(1) of them on average, and a reader opens at
    most that many journal files.
    """
    return journaled >= max(_MIN_BETWEEN_COMPACTIONS, in_main // 4, ntrajectories // 100)


def fill_entry(ds: Any, record: IterationRecord) -> None:
    """Define and write the journal file of ``record``."""
    ds.set_fill_off()
    ds.setncatts(
        {
            "Conventions": "CF-1.10",
            "title": f"pytams journal: iteration {record.index}",
            "pytams_format": "pytams-journal",
            "pytams_format_version": np.int32(FILE_FORMAT_VERSION),
        }
    )
    writes = define_iterations(ds, IterationTable([record]).frozen())
    writes.append(define_end(ds))
    write_data(writes)


def read_journal(directory: Path, first: int, fix: str) -> list[IterationRecord]:
    """The journal's records from iteration ``first`` on, in order, up to the first gap.

    A reader of a running database may meet a gap where a compaction deleted files after
    it read ``tams.nc``: it then sees the run as it was at that ``tams.nc``'s last journal
    file read, a state the run passed through.

    Raises:
        DatabaseCorruptError: When a journal file is damaged (naming it and ``fix``).
    """
    records: list[IterationRecord] = []
    for index in range(first, first + len(entries(directory)) + 1):
        path = entry_file(directory, index)
        if not path.is_file():
            break
        try:
            with open_for_reading(path, f"the journal of iteration {index}", fix) as ds:
                check_end(ds)
                rows = read_iterations(ds)
                if len(rows) != 1 or rows[0].index != index:
                    msg = f"holds iterations {[r.index for r in rows]}, not {index}"
                    raise ValueError(msg)  # reported with the file's name
        except DatabaseCorruptError:
            if not path.exists():  # a running compaction deleted it: read what came before
                break
            raise
        records.extend(rows)
    return records


def entries(directory: Path) -> list[int]:
    """The iterations of the journal files on disk."""
    if not directory.is_dir():
        return []
    return [int(m[1]) for e in os.scandir(directory) if (m := _ENTRY.match(e.name))]


def remove_stale(directory: Path, in_main: int) -> None:
    """Delete the journal files of iterations ``tams.nc`` holds (it is durable)."""
    for index in entries(directory):
        if index < in_main:
            with contextlib.suppress(OSError):
                entry_file(directory, index).unlink()


def commit_clones(ensemble: list[TrajectoryKey], records: Sequence[IterationRecord]) -> None:
    """Put the clones of ``records`` into their slots of ``ensemble``, in order (in place)."""
    for record in records:
        for clone in record.clones:
            ensemble[clone.slot] = clone
