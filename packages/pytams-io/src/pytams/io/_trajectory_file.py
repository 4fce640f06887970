"""One trajectory's file, ``trajectories/<slot>-<generation>.nc``: time, score, noise, state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io import _cdf5 as cdf5
from pytams.io._attributes import time_attributes
from pytams.io._columns import PathRoots, Writes, define_column, holds_text, read_column, write_data
from pytams.io._layout import FILE_FORMAT_VERSION, READABLE_VERSIONS
from pytams.io._sentinel import check_end
from pytams.io._sentinel import define_end as _define_end  # a module attribute tests replace

# CDF-5 (built in memory: a fraction of a millisecond), except for trajectories with states
# (or noises) that are strings or paths: variables of strings need netCDF-4
FAST_FORMAT = cdf5.DATA_MODEL
TEXT_FORMAT = "NETCDF4"


def trajectory_format(trajectory: Trajectory) -> str:
    """The netCDF format of a trajectory's file."""
    text = holds_text(trajectory.states) or holds_text(trajectory.noises)
    return TEXT_FORMAT if text else FAST_FORMAT


def shared_prefix(trajectory: Trajectory) -> int:
    """How many leading snapshots a clone's file leaves to its parent's file.

    A clone is its parent's snapshots 0..branch_index followed by its own; its file holds its
    own snapshots, and the branching snapshot too when it has no other (a clone that starts
    converged), so that no file is empty.
    """
    if trajectory.parent is None or trajectory.branch_index is None:
        return 0
    return min(trajectory.branch_index + 1, len(trajectory) - 1)


def fill_trajectory_file(
    ds: Any, trajectory: Trajectory, roots: PathRoots, time_units: str = "1", *, shared: int = 0
) -> None:
    """Define and write a trajectory in a new dataset (netCDF4 or `pytams.io._cdf5`).

    ``time_units`` are the units of model time (``[model] time_units``; see
    `pytams.io._attributes.time_attributes`). ``shared`` leading snapshots are left out: the
    parent's file holds them (`shared_prefix`; attribute ``pytams_shared_prefix``).
    """
    maximum = trajectory.max_score  # of the whole trajectory: the algorithm's Q
    if shared:
        trajectory = own_part(trajectory, shared)
    n = len(trajectory)
    ds.setncatts(
        {
            "Conventions": "CF-1.10",
            "title": f"pytams trajectory {trajectory.key}",
            "history": "written by pytams-io",
            "pytams_format": "pytams-trajectory",
            "pytams_format_version": np.int32(FILE_FORMAT_VERSION),
            "pytams_key": str(trajectory.key),
            "pytams_parent": "" if trajectory.parent is None else str(trajectory.parent),
            "pytams_branch_index": np.int64(
                -1 if trajectory.branch_index is None else trajectory.branch_index
            ),
            "pytams_converged": np.int8(trajectory.converged),
            "pytams_model_steps": np.int64(trajectory.model_steps),
            "pytams_shared_prefix": np.int64(shared),
            "pytams_max_score": np.float64(maximum),
        }
    )
    ds.createDimension("time", n)
    times = ds.createVariable("time", "f8", ("time",), fill_value=False)
    times.setncatts(time_attributes(time_units, coordinate=True))
    scores = ds.createVariable("score", "f8", ("time",), fill_value=False)
    scores.setncatts({"long_name": "score function xi(t, x) at each snapshot", "units": "1"})
    writes: Writes = [
        (times, np.asarray(trajectory.times, dtype=np.float64)),
        (scores, np.asarray(trajectory.scores, dtype=np.float64)),
    ]
    writes += define_column(
        ds, "noise", trajectory.noises, None, "noise of the step that led to each snapshot"
    )
    writes += define_column(
        ds, "state", trajectory.states, roots, "model state at the snapshots where it is stored"
    )
    writes.append(_define_end(ds))
    write_data(writes)


def own_part(trajectory: Trajectory, shared: int) -> Trajectory:
    """``trajectory`` without its first ``shared`` snapshots (what its file holds)."""
    return Trajectory(
        key=trajectory.key,
        parent=trajectory.parent,
        branch_index=trajectory.branch_index,
        times=trajectory.times[shared:],
        scores=trajectory.scores[shared:],
        noises=trajectory.noises[shared:],
        states=trajectory.states[shared:],
        converged=trajectory.converged,
        model_steps=trajectory.model_steps,
    )


def read_trajectory_file(
    ds: Any,
    roots: PathRoots,
    *,
    allow_pickle: bool = False,
    wanted: range | None = None,
    whole_below: int = 0,
) -> tuple[Trajectory, int]:
    """The snapshots in an open file and how many leading ones its parent's file holds.

    The whole trajectory is the parent's first ``shared`` snapshots followed by these
    (`pytams.io._worker_files.assemble`); ``shared`` is 0 for a whole file. Pickled columns
    are read only with ``allow_pickle``. ``wanted``: the snapshots (of this file) whose noise
    and state are read; the others' are `pytams.io._columns.UNREAD` (all read if None).
    ``whole_below``: every noise and state is read all the same when they take fewer bytes
    in the file (less than opening it again for them would cost).

    Raises:
        UntrustedPickleError: When a column holds pickles and ``allow_pickle`` is false.
        ValueError: When the file is truncated or its columns disagree.
    """
    check_end(ds)
    n = len(ds.dimensions["time"])
    times = ds.variables["time"][:]
    scores = ds.variables["score"][:]
    if len(times) != n or len(scores) != n:
        msg = f"time and score hold {len(times)} and {len(scores)} values for {n} snapshots"
        raise ValueError(msg)
    if int(ds.pytams_format_version) not in READABLE_VERSIONS:
        msg = (
            f"format version {int(ds.pytams_format_version)}, written by a newer pytams-io; "
            "install a pytams-io that reads it"
        )
        raise ValueError(msg)
    if wanted is not None and noise_and_state_bytes(ds) < whole_below:
        wanted = None
    parent = str(ds.pytams_parent)
    branch = int(ds.pytams_branch_index)
    shared = int(ds.pytams_shared_prefix) if "pytams_shared_prefix" in ds.ncattrs() else 0
    part = Trajectory(
        key=TrajectoryKey.parse(str(ds.pytams_key)),
        parent=TrajectoryKey.parse(parent) if parent else None,
        branch_index=None if branch < 0 else branch,
        times=times.tolist(),
        scores=scores.tolist(),
        noises=read_column(ds, "noise", n, None, allow_pickle=allow_pickle, wanted=wanted),
        states=read_column(ds, "state", n, roots, allow_pickle=allow_pickle, wanted=wanted),
        converged=bool(ds.pytams_converged),
        model_steps=int(ds.pytams_model_steps),
    )
    return part, shared


def noise_and_state_bytes(ds: Any) -> int:
    """The bytes of an open trajectory file's noise and state variables (text: 64 a value)."""
    total = 0
    for name, var in ds.variables.items():
        if name.split("_")[0] in ("noise", "state"):
            size = var.dtype.itemsize if isinstance(var.dtype, np.dtype) else 64
            total += math.prod(var.shape) * size
    return total
