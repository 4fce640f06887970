"""Exploring a database: open it read-only (also while a run writes it) and view it in xarray."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.database import Database
from pytams.core.errors import StorageError
from pytams.core.stop import StopReason, stop_before_iteration
from pytams.core.trajectory import Trajectory
from pytams.io.store import MAIN_FILE, NetCDFStore


class ExploredDatabase(Database):
    """A `pytams.core.Database` opened read-only from a directory, with an xarray view."""

    store: NetCDFStore

    def __init__(self, store: NetCDFStore) -> None:
        super().__init__(store)

    @property
    def path(self) -> Path:
        """The database directory."""
        return self.store.path

    def to_xarray(self, *, archived: bool = False, states: bool = True) -> Any:
        """The run as an `xarray.Dataset` (see `to_xarray`)."""
        return to_xarray(self, archived=archived, states=states)

    def status(self) -> RunStatus:
        """What the run has done so far (see `RunStatus`)."""
        return run_status(self)


def open_database(path: str | os.PathLike[str]) -> ExploredDatabase:
    """Open the database at ``path`` read-only; safe while a run is writing it.

    The result is a snapshot of the database when it was opened: open it again to see a
    running run's progress.

    Raises:
        StorageError: When ``path`` holds no pytams database.
        DatabaseCorruptError: When a file the database needs is missing or damaged.
    """
    directory = Path(path)
    if directory.name == MAIN_FILE and directory.is_file():
        directory = directory.parent
    if not directory.is_dir():
        msg = f"{directory}: no such database directory; give the [database] path of a run"
        raise StorageError(msg)
    store = NetCDFStore(directory, read_only=True)
    if not store.main_file.exists():
        msg = (
            f"{directory} holds no pytams database ({MAIN_FILE} is missing): the run has "
            "not started writing it yet, or this is not a database directory"
        )
        raise StorageError(msg)
    return ExploredDatabase(store)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStatus:
    """A summary of a database, finished or running (what ``pytams inspect`` prints).

    Attributes:
        state: ``"initial ensemble"`` (running it), ``"iterating"`` (between iterations or
            running one), or ``"finished: <reason>"`` when the stored state is a stopping
            point of the algorithm (target reached, all converged, extinction, max
            iterations); a walltime-stopped or killed run shows as still running.
        model: The model reference.
        seed: The run's seed.
        ntrajectories: N.
        stored: Trajectory files stored (initial ensemble and clones).
        iterations: Iterations journaled.
        pending: Whether the last iteration's clones are not all committed yet.
        level: The last level z_j (NaN before the first iteration).
        weight: W_J.
        converged: Converged trajectories in the ensemble.
        estimate: W_J * converged / N (the estimate if the run stopped now).
        model_steps: Model steps spent on every stored trajectory.
        wall_time: Seconds from the run's start to the last write of ``tams.nc``.
    """

    state: str
    model: str
    seed: int | None
    ntrajectories: int
    stored: int
    iterations: int
    pending: bool
    level: float
    weight: float
    converged: int
    estimate: float
    model_steps: int
    wall_time: float | None


_FINISHED = {
    StopReason.ALL_CONVERGED: "all converged",
    StopReason.TARGET_REACHED: "target reached",
    StopReason.EXTINCTION: "extinction",
    StopReason.MAX_ITERATIONS: "max iterations",
    StopReason.MAX_KILLS: "max kills",
    StopReason.MONTECARLO: "monte carlo",
}


def run_status(database: Database) -> RunStatus:
    """The `RunStatus` of any database."""
    metadata = database.metadata or {}
    config = metadata.get("config", {})
    tams = config.get("tams", {})
    n = int(tams.get("ntrajectories", 0))
    k = int(tams.get("kills_per_iteration", 1))
    target = float(config.get("trajectory", {}).get("target_score", math.inf))
    ensemble = database.ensemble
    iterations = database.iterations
    keys = database.stored_keys()
    store = database.store
    if isinstance(store, NetCDFStore):  # attributes only: no trajectory data is read
        steps = sum(store.model_steps(key) for key in keys)
    else:
        steps = sum(database.trajectory(key).model_steps for key in keys)
    converged = sum(t.converged for t in ensemble or [])
    pending = database.pending is not None
    if ensemble is None:
        state = "initial ensemble"
    elif pending:
        state = "iterating"
    elif tams.get("sampler") == "montecarlo":
        state = f"finished: {_FINISHED[StopReason.MONTECARLO]}"
    else:
        maxima = sorted(t.max_score for t in ensemble)
        cap, max_kills = tams.get("max_iterations"), tams.get("max_kills")
        reason = stop_before_iteration(
            iterations=len(iterations),
            all_converged=converged == len(ensemble),
            max_iterations=None if cap is None else int(cap),
            kills=sum(len(record.killed) for record in iterations),
            max_kills=None if max_kills is None else int(max_kills),
            out_of_time=False,
            level=maxima[k - 1] if len(maxima) >= k else math.nan,
            highest=maxima[-1],
            target=target,
        )
        state = "iterating" if reason is None else f"finished: {_FINISHED[reason]}"
    wall_time = None
    if isinstance(store, NetCDFStore) and store.created is not None and store.updated:
        from datetime import datetime

        started = datetime.fromisoformat(store.created).timestamp()
        wall_time = max(0.0, store.updated - started)
    seed = metadata.get("seed")
    return RunStatus(
        state=state,
        model=str(metadata.get("model")),
        seed=None if seed is None else int(seed),
        ntrajectories=n,
        stored=len(keys),
        iterations=len(iterations),
        pending=pending,
        level=iterations[-1].level if iterations else math.nan,
        weight=database.weight,
        converged=converged,
        estimate=database.weight * converged / n if n and ensemble is not None else math.nan,
        model_steps=steps,
        wall_time=wall_time,
    )


def to_xarray(database: Database, *, archived: bool = False, states: bool = True) -> Any:
    """The ensemble and the iteration table of ``database`` as an `xarray.Dataset`.

    Dimensions: ``trajectory`` (the ensemble in slot order, then the archived trajectories
    when ``archived``), ``time`` (snapshot index, NaN-padded past each trajectory's end; its
    coordinate is the model time when every trajectory shares the same time steps),
    ``iteration`` and ``kill`` (the iteration table), and ``state_dim_*`` for array states.

    Args:
        database: Any database (a netCDF one from `open_database`, or in memory).
        archived: Include the killed trajectories too.
        states: Include the stored states (numeric ones only; NaN where not stored).
    """
    import xarray as xr

    trajectories: list[Trajectory] = list(database.ensemble or [])
    in_ensemble = [True] * len(trajectories)
    if archived or database.ensemble is None:
        extra = (
            database.archived()
            if database.ensemble is not None
            else [database.trajectory(k) for k in sorted(database.stored_keys())]
        )
        trajectories += extra
        in_ensemble += [False] * len(extra)
    length = max((len(t) for t in trajectories), default=0)
    count = len(trajectories)
    score = np.full((count, length), np.nan)
    model_time = np.full((count, length), np.nan)
    for i, trajectory in enumerate(trajectories):
        score[i, : len(trajectory)] = trajectory.scores
        model_time[i, : len(trajectory)] = trajectory.times
    longest = max(trajectories, key=len).times if trajectories else []
    shared = all(t.times == longest[: len(t)] for t in trajectories)
    time_coord = np.asarray(longest, dtype=np.float64) if shared else np.arange(length, dtype=float)
    data: dict[str, Any] = {
        "score": (("trajectory", "time"), score, {"long_name": "score xi(t, x)"}),
        "model_time": (("trajectory", "time"), model_time, {"long_name": "model time"}),
        "converged": ("trajectory", np.array([t.converged for t in trajectories], dtype=bool)),
        "max_score": ("trajectory", np.array([t.max_score for t in trajectories])),
        "length": (
            "trajectory",
            np.array([len(t) for t in trajectories], dtype=np.int64),
            {"long_name": "number of snapshots"},
        ),
        "parent": (
            "trajectory",
            np.array(
                ["" if t.parent is None else str(t.parent) for t in trajectories], dtype=object
            ),
        ),
        "branch_index": (
            "trajectory",
            np.array(
                [-1 if t.branch_index is None else t.branch_index for t in trajectories],
                dtype=np.int64,
            ),
        ),
        "model_steps": (
            "trajectory",
            np.array([t.model_steps for t in trajectories], dtype=np.int64),
        ),
        "in_ensemble": ("trajectory", np.array(in_ensemble, dtype=bool)),
    }
    if states:
        state = _state_array(trajectories, length)
        if state is not None:
            dims = ("trajectory", "time", *[f"state_dim_{i}" for i in range(state.ndim - 2)])
            data["state"] = (dims, state, {"long_name": "model state (NaN where not stored)"})
    iterations = database.iterations
    data["level"] = (
        "iteration",
        np.array([r.level for r in iterations], dtype=np.float64),
        {"long_name": "level z_j"},
    )
    data["weight"] = (
        "iteration",
        np.array([r.weight for r in iterations], dtype=np.float64),
        {"long_name": "weight W_{j+1} after the iteration"},
    )
    data["killed_count"] = (
        "iteration",
        np.array([len(r.killed) for r in iterations], dtype=np.int64),
    )
    width = max((len(r.killed) for r in iterations), default=0)
    for name in ("killed", "parents"):
        table = np.full((len(iterations), width), "", dtype=object)
        for j, record in enumerate(iterations):
            keys = getattr(record, name)
            table[j, : len(keys)] = [str(key) for key in keys]
        data[name] = (("iteration", "kill"), table)
    metadata = database.metadata or {}
    n = int(metadata.get("config", {}).get("tams", {}).get("ntrajectories", 0)) or None
    converged = sum(t.converged for t in database.ensemble or [])
    attrs = {
        "Conventions": "CF-1.10",
        "title": "pytams run",
        "model": str(metadata.get("model")),
        "seed": str(metadata.get("seed")),
        "ntrajectories": n or len(database.ensemble or []),
        "weight": database.weight,
        "converged": converged,
        "estimate": (
            database.weight * converged / n if n and database.ensemble is not None else math.nan
        ),
    }
    coords = {
        "trajectory": [str(t.key) for t in trajectories],
        "time": ("time", time_coord, {"long_name": "model time" if shared else "snapshot index"}),
        "slot": ("trajectory", np.array([t.key.slot for t in trajectories], dtype=np.int64)),
        "generation": (
            "trajectory",
            np.array([t.key.generation for t in trajectories], dtype=np.int64),
        ),
        "iteration": np.array([r.index for r in iterations], dtype=np.int64),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _state_array(trajectories: list[Trajectory], length: int) -> np.ndarray | None:
    """States as a NaN-padded float array, or None when they are not numbers or arrays."""
    shape: tuple[int, ...] | None = None
    for trajectory in trajectories:
        for value in trajectory.states:
            if value is None:
                continue
            if isinstance(value, (bool, str)) or not isinstance(
                value, (int, float, np.ndarray, np.number)
            ):
                return None
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf" or (shape is not None and arr.shape != shape):
                return None
            shape = arr.shape
    if shape is None:
        return None
    out = np.full((len(trajectories), length, *shape), np.nan)
    for i, trajectory in enumerate(trajectories):
        for j, value in enumerate(trajectory.states):
            if value is not None:
                out[i, j] = value
    return out
