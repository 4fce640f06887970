"""The iteration table: records kept as columns, and their netCDF variables in ``tams.nc``.

One row per iteration (``level``, ``weight``, ``killed_count``), the killed trajectories and
the parents of their clones as the CF contiguous ragged array ``kills``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytams.core.store import IterationRecord
from pytams.core.trajectory import TrajectoryKey
from pytams.io._columns import Writes

_KEY_COLUMNS = ("killed_slot", "killed_generation", "parent_slot", "parent_generation")


@dataclass(frozen=True)
class IterationColumns:
    """The iteration table as columns (read-only views), one row per iteration."""

    index: np.ndarray
    level: np.ndarray
    weight: np.ndarray
    killed_count: np.ndarray
    kills: np.ndarray  # one row per kill: _KEY_COLUMNS


class _Growing:
    """A numpy array grown in place: appending rows costs O(1) amortized."""

    def __init__(self, dtype: Any, width: int | None = None) -> None:
        self._shape = () if width is None else (width,)
        self._data = np.empty((16, *self._shape), dtype=dtype)
        self.size = 0

    def extend(self, rows: Any) -> None:
        rows = np.asarray(rows, dtype=self._data.dtype).reshape(-1, *self._shape)
        end = self.size + len(rows)
        if end > len(self._data):
            grown = np.empty((max(end, 2 * len(self._data)), *self._shape), self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : end] = rows
        self.size = end

    def view(self) -> np.ndarray:
        """The rows so far (later appends never change them)."""
        view = self._data[: self.size]
        view.flags.writeable = False
        return view


class IterationTable:
    """The iteration records, and the same as columns kept up to date as records are appended.

    ``tams.nc`` is rewritten at every iteration: the columns make that cost a copy of
    arrays instead of a pass over every record in Python.
    """

    def __init__(self, records: Sequence[IterationRecord] = ()) -> None:
        self.records: list[IterationRecord] = []
        self._columns = {
            "index": _Growing(np.int64),
            "level": _Growing(np.float64),
            "weight": _Growing(np.float64),
            "killed_count": _Growing(np.int64),
            "kills": _Growing(np.int64, len(_KEY_COLUMNS)),
        }
        for record in records:
            self.append(record)

    def append(self, record: IterationRecord) -> None:
        """Add a row."""
        self.records.append(record)
        columns = self._columns
        columns["index"].extend(record.index)
        columns["level"].extend(record.level)
        columns["weight"].extend(record.weight)
        columns["killed_count"].extend(len(record.killed))
        columns["kills"].extend(
            [
                (killed.slot, killed.generation, parent.slot, parent.generation)
                for killed, parent in zip(record.killed, record.parents, strict=True)
            ]
        )

    def pop(self) -> None:
        """Remove the last row (a write of it failed)."""
        record = self.records.pop()
        for name, column in self._columns.items():
            column.size -= len(record.killed) if name == "kills" else 1

    def frozen(self) -> IterationColumns:
        """The columns as they are now."""
        return IterationColumns(**{name: c.view() for name, c in self._columns.items()})


def define_iterations(ds: Any, table: IterationColumns) -> Writes:
    """The iteration table: one row per iteration, kills as a CF contiguous ragged array."""
    size = len(table.index)
    if not size:
        return []
    writes: Writes = []
    ds.createDimension("iteration", size)
    if not np.array_equal(table.index, np.arange(size)):
        var = ds.createVariable("iteration", "i8", ("iteration",), fill_value=False)
        var.long_name = "iteration number j"
        writes.append((var, table.index))
    columns: list[tuple[str, str, np.ndarray, dict[str, str]]] = [
        ("level", "f8", table.level,
         {"long_name": "level z_j: the k-th smallest maximum score", "units": "1"}),
        ("weight", "f8", table.weight,
         {"long_name": "weight W_{j+1} = W_j (1 - l_j / N) after the iteration", "units": "1"}),
        ("killed_count", "i8", table.killed_count,
         {"long_name": "number of trajectories killed l_j", "units": "1",
          "sample_dimension": "kill"}),
    ]  # fmt: skip
    for name, dtype, values, attrs in columns:
        var = ds.createVariable(name, dtype, ("iteration",), fill_value=False)
        var.setncatts(attrs)
        writes.append((var, values))
    if len(table.kills):
        ds.createDimension("kill", len(table.kills))
        ds.createDimension("key_column", len(_KEY_COLUMNS))
        var = ds.createVariable("kills", "i8", ("kill", "key_column"), fill_value=False)
        var.setncatts(
            {
                "long_name": "killed trajectories and the parents of their clones, by iteration",
                "columns": " ".join(_KEY_COLUMNS),
            }
        )
        writes.append((var, table.kills))
    return writes


def read_iterations(ds: Any) -> list[IterationRecord]:
    """The iteration records of an open ``tams.nc``.

    Raises:
        ValueError: When the columns disagree.
    """
    if "iteration" not in ds.dimensions:
        return []
    size = len(ds.dimensions["iteration"])
    index = (
        ds.variables["iteration"][:].tolist() if "iteration" in ds.variables else list(range(size))
    )
    level = ds.variables["level"][:].tolist()
    weight = ds.variables["weight"][:].tolist()
    count = ds.variables["killed_count"][:].tolist()
    total = sum(count)
    rows = ds.variables["kills"][:].tolist() if total else []
    if len(rows) != total or not len(index) == len(level) == len(weight) == size:
        msg = f"the iteration table is inconsistent ({len(rows)} kills, killed_count {total})"
        raise ValueError(msg)
    records, start = [], 0
    for j, lev, w, c in zip(index, level, weight, count, strict=True):
        chunk = rows[start : start + c]
        records.append(
            IterationRecord(
                index=j,
                level=lev,
                killed=tuple(TrajectoryKey(row[0], row[1]) for row in chunk),
                parents=tuple(TrajectoryKey(row[2], row[3]) for row in chunk),
                weight=w,
            )
        )
        start += c
    return records
