"""Exploring a database: open it read-only (also while a run writes it) and view it in xarray."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.database import FORMAT_VERSION, Database
from pytams.core.errors import StorageError
from pytams.core.estimator import ancestors
from pytams.core.stop import StopReason
from pytams.core.store import IterationRecord
from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io._attributes import run_attributes, time_attributes, time_units
from pytams.io._main_file import package_versions
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

    def trajectory(self, key: TrajectoryKey | str) -> Trajectory:
        """Any stored trajectory; ``key`` may be its string form (``"000000-00004"``).

        Raises:
            TypeError: When ``key`` is neither a `TrajectoryKey` nor a string.
            ValueError: When the string is not ``<slot>-<generation>``.
        """
        return super().trajectory(TrajectoryKey.parse(key))

    def has_trajectory(self, key: TrajectoryKey | str) -> bool:
        """Whether ``key`` (a `TrajectoryKey` or its string form) is stored."""
        return super().has_trajectory(TrajectoryKey.parse(key))

    def to_xarray(self, *, archived: bool = False, states: bool = True) -> Any:
        """The run as an `xarray.Dataset` (see `to_xarray`)."""
        return to_xarray(self, archived=archived, states=states)

    def status(self) -> RunStatus:
        """What the run has done so far (see `RunStatus`)."""
        return run_status(self)


def open_database(path: str | os.PathLike[str], *, allow_pickle: bool = False) -> ExploredDatabase:
    """Open the database at ``path`` read-only; safe while a run is writing it.

    The result is a snapshot of the database when it was opened: open it again to see a
    running run's progress. Exploring never runs code stored in the database: the Python
    pickles it may hold (exotic state values, metadata of older pytams-io) are refused
    unless ``allow_pickle`` says the database is trusted.

    Args:
        path: The database directory (or its ``tams.nc``).
        allow_pickle: Unpickle what the database holds as pickles; unpickling can run any
            code, so only for databases you trust (you wrote them, or know who did).

    Raises:
        StorageError: When ``path`` holds no pytams database.
        UntrustedPickleError: (a StorageError) When reading something pickled without
            ``allow_pickle``; it says how to opt in.
        DatabaseCorruptError: When a file the database needs is missing or damaged.
    """
    directory = Path(path)
    if directory.name == MAIN_FILE and directory.is_file():
        directory = directory.parent
    if not directory.is_dir():
        msg = f"{directory}: no such database directory; give the [database] path of a run"
        raise StorageError(msg)
    store = NetCDFStore(directory, read_only=True, allow_pickle=allow_pickle)
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

    The run's end is read from the outcome the run stored when it stopped
    (``metadata["outcome"]``), never worked out again.

    Attributes:
        state: ``"initial ensemble"`` (running, stopped or interrupted in it), ``"finished:
            <reason>"`` (target reached, all converged, extinction, max iterations, max kills,
            monte carlo), ``"stopped: walltime"`` (resumable), ``"interrupted"`` (Ctrl-C;
            resumable), or ``"running (or killed)"`` when no outcome is stored.
        model: The model reference.
        seed: The run's seed.
        ntrajectories: N.
        stored: Trajectory files stored (initial ensemble and clones).
        iterations: Iterations journaled.
        pending: Whether the last iteration's clones are not all committed yet.
        level: The last level z_j (NaN before the first iteration).
        weight: W_J.
        converged: Converged trajectories in the ensemble.
        estimate: The stored estimate p_hat of a complete run; NaN otherwise.
        model_steps: Model steps spent on every stored trajectory.
        wall_time: Seconds from the run's start to the last write of ``tams.nc``.
        stop_reason: The stored stop reason (a `StopReason` value or ``"interrupted"``);
            None when no outcome is stored.
        complete: Whether the run stopped with an estimate.
        std_error, ci_low, ci_high: The estimate's standard error and 95% interval (NaN
            unless complete).
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
    stop_reason: str | None = None
    complete: bool = False
    std_error: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan


_FINISHED = {
    StopReason.ALL_CONVERGED: "all converged",
    StopReason.TARGET_REACHED: "target reached",
    StopReason.EXTINCTION: "extinction",
    StopReason.MAX_ITERATIONS: "max iterations",
    StopReason.MAX_KILLS: "max kills",
    StopReason.MONTECARLO: "monte carlo",
}
_WORDS = {reason.value: words for reason, words in _FINISHED.items()}


def _state(database: Database, outcome: dict[str, Any] | None) -> str:
    """The `RunStatus.state` of ``database`` from its stored outcome."""
    if database.ensemble is None:
        return "initial ensemble"
    if outcome is None:
        if (database.metadata or {}).get("format_version", FORMAT_VERSION) < 2:
            return "unknown (format 1 does not record how a run ended: resume it to know)"
        return "running (or killed)"
    reason = str(outcome.get("stop_reason"))
    if outcome.get("complete"):
        return f"finished: {_WORDS.get(reason, reason)}"
    if reason == "interrupted":
        return "interrupted"
    if reason == "failed":
        return f"failed: {outcome.get('error')} (resumable once fixed)"
    return f"stopped: {reason}"


def _estimate(outcome: dict[str, Any] | None, name: str) -> float:
    """A stored estimate field of a complete run (NaN otherwise: no estimate claimed)."""
    if outcome is None or not outcome.get("complete") or outcome.get(name) is None:
        return math.nan
    return float(outcome[name])


def run_status(database: Database) -> RunStatus:
    """The `RunStatus` of any database."""
    metadata = database.metadata or {}
    outcome = database.outcome
    n = int(metadata.get("config", {}).get("tams", {}).get("ntrajectories", 0))
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
    wall_time = None
    if outcome is not None and outcome.get("wall_time") is not None:
        wall_time = float(outcome["wall_time"])  # the run's own clock, its last session
    elif isinstance(store, NetCDFStore) and store.created is not None and store.updated:
        from datetime import datetime

        started = datetime.fromisoformat(store.created).timestamp()
        wall_time = max(0.0, store.updated - started)
    seed = metadata.get("seed")
    return RunStatus(
        state=_state(database, outcome),
        model=str(metadata.get("model")),
        seed=None if seed is None else int(seed),
        ntrajectories=n,
        stored=len(keys),
        iterations=len(iterations),
        pending=pending,
        level=iterations[-1].level if iterations else math.nan,
        weight=database.weight,
        converged=converged,
        estimate=_estimate(outcome, "probability"),
        model_steps=steps,
        wall_time=wall_time,
        stop_reason=None if outcome is None else str(outcome.get("stop_reason")),
        complete=bool(outcome is not None and outcome.get("complete")),
        std_error=_estimate(outcome, "std_error"),
        ci_low=_estimate(outcome, "ci_low"),
        ci_high=_estimate(outcome, "ci_high"),
    )


def to_xarray(database: Database, *, archived: bool = False, states: bool = True) -> Any:
    """The ensemble and the iteration table of ``database`` as a self-describing `xarray.Dataset`.

    Dimensions: ``trajectory`` (the ensemble in slot order, then the archived trajectories
    when ``archived``), ``time`` (snapshot index, NaN-padded past each trajectory's end; its
    coordinate is the model time when every trajectory shares the same time steps),
    ``iteration`` and ``kill`` (the iteration table), and ``state_dim_*`` for array states.

    Every variable has a ``long_name`` and, where one applies, ``units`` (model time in the
    run's ``[model] time_units``, as CF time units). Per trajectory: ``trajectory_weight``,
    the weight it carries in the probability and exceedance-curve estimators (W_J / N in the
    final ensemble, W_{j-1} / N when killed at iteration j; see `pytams.core.curve`), and
    ``root_ancestor``, the slot of the initial-ensemble trajectory it descends from. The
    global attributes hold the run's settings (N, k, T, dt, target, seed, model, versions,
    the configuration as TOML) and, once the run has one, its outcome (``probability``,
    ``std_error``, ``ci_low``, ``ci_high``, ``stop_reason``).

    Killed trajectories are left out by default: with ``archived=True`` they follow the
    ensemble (``in_ensemble`` false, ``killed_iteration`` the iteration that killed them),
    and the weights of all the trajectories sum to 1, so that the exceedance curve at a
    level a is the sum of ``trajectory_weight`` over the trajectories with ``max_score >= a``.

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
    metadata = database.metadata or {}
    units = time_units(metadata)
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
    n = int(metadata.get("config", {}).get("tams", {}).get("ntrajectories", 0)) or None
    size = n or len(database.ensemble or [])
    data: dict[str, Any] = {
        "score": (("trajectory", "time"), score, {"long_name": "score xi(t, x)", "units": "1"}),
        "model_time": (
            ("trajectory", "time"),
            model_time,
            time_attributes(units, coordinate=False) | {"long_name": "model time of each snapshot"},
        ),
        **_trajectory_variables(trajectories, in_ensemble, database, size),
    }
    if states:
        state = _state_array(trajectories, length)
        if state is not None:
            dims = ("trajectory", "time", *[f"state_dim_{i}" for i in range(state.ndim - 2)])
            data["state"] = (dims, state, {"long_name": "model state (NaN where not stored)"})
    data |= _iteration_variables(database.iterations)
    converged = sum(t.converged for t in database.ensemble or [])
    attrs = {"Conventions": "CF-1.10", "title": "pytams run", "history": "pytams-io to_xarray"}
    attrs |= run_attributes(metadata, _versions(database)) | {
        "model": str(metadata.get("model")),
        "seed": str(metadata.get("seed")),
        "ntrajectories": size,
        "weight": database.weight,
        "converged": converged,
        "estimate": (
            database.weight * converged / n if n and database.ensemble is not None else math.nan
        ),
    }
    time_attrs = (
        time_attributes(units, coordinate=True)
        if shared
        else {"long_name": "snapshot index", "units": "1"}
    )
    coords = {
        "trajectory": (
            "trajectory",
            [str(t.key) for t in trajectories],
            {"long_name": "trajectory key: <slot>-<generation>"},
        ),
        "time": ("time", time_coord, time_attrs),
        "slot": (
            "trajectory",
            np.array([t.key.slot for t in trajectories], dtype=np.int64),
            {"long_name": "slot of the ensemble the trajectory occupies (0 to N - 1)"},
        ),
        "generation": (
            "trajectory",
            np.array([t.key.generation for t in trajectories], dtype=np.int64),
            {"long_name": "generation in its slot: 0 in the initial ensemble, + 1 per kill"},
        ),
        "iteration": (
            "iteration",
            np.array([r.index for r in database.iterations], dtype=np.int64),
            {"long_name": "iteration number j"},
        ),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _trajectory_variables(
    trajectories: list[Trajectory], in_ensemble: list[bool], database: Database, n: int
) -> dict[str, Any]:
    """The per-trajectory variables of the view (besides score, model time and state)."""
    killed_at = {key: j for j, r in enumerate(database.iterations) for key in r.killed}
    before = [1.0] + [r.weight for r in database.iterations]
    eve = ancestors(n, database.iterations)

    def weight(trajectory: Trajectory, member: bool) -> float:
        j = killed_at.get(trajectory.key)
        if j is not None:
            return before[j] / n
        return database.weight / n if member and n else math.nan

    def root(trajectory: Trajectory) -> int:
        key = trajectory.key
        return eve.get(key, key.slot if key.generation == 0 else -1)

    members = zip(trajectories, in_ensemble, strict=True)
    return {
        "converged": (
            "trajectory",
            np.array([t.converged for t in trajectories], dtype=bool),
            {"long_name": "whether the trajectory reached the target score"},
        ),
        "max_score": (
            "trajectory",
            np.array([t.max_score for t in trajectories], dtype=np.float64),
            {"long_name": "maximum score Q of the trajectory", "units": "1"},
        ),
        "length": (
            "trajectory",
            np.array([len(t) for t in trajectories], dtype=np.int64),
            {"long_name": "number of snapshots", "units": "1"},
        ),
        "parent": (
            "trajectory",
            np.array(
                ["" if t.parent is None else str(t.parent) for t in trajectories], dtype=object
            ),
            {"long_name": "key of the trajectory it was cloned from (empty: initial ensemble)"},
        ),
        "branch_index": (
            "trajectory",
            np.array(
                [-1 if t.branch_index is None else t.branch_index for t in trajectories],
                dtype=np.int64,
            ),
            {"long_name": "index of the parent's snapshot the clone branches from (-1: none)"},
        ),
        "model_steps": (
            "trajectory",
            np.array([t.model_steps for t in trajectories], dtype=np.int64),
            {"long_name": "model steps computed for the trajectory", "units": "1"},
        ),
        "in_ensemble": (
            "trajectory",
            np.array(in_ensemble, dtype=bool),
            {"long_name": "whether the trajectory is in the ensemble (false: killed)"},
        ),
        "killed_iteration": (
            "trajectory",
            np.array([killed_at.get(t.key, -1) for t in trajectories], dtype=np.int64),
            {"long_name": "iteration j that killed the trajectory (-1: not killed)"},
        ),
        "trajectory_weight": (
            "trajectory",
            np.array([weight(t, m) for t, m in members], dtype=np.float64),
            {
                "long_name": "weight of the trajectory in the probability and exceedance "
                "estimators: W_J / N in the ensemble, W_{j-1} / N if killed at iteration j",
                "units": "1",
            },
        ),
        "root_ancestor": (
            "trajectory",
            np.array([root(t) for t in trajectories], dtype=np.int64),
            {
                "long_name": "slot of the initial-ensemble trajectory (generation 0) it "
                "descends from (-1: unknown)"
            },
        ),
    }


def _iteration_variables(iterations: list[IterationRecord]) -> dict[str, Any]:
    """The iteration table of the view: level, weight, killed count, killed and parents."""
    data: dict[str, Any] = {
        "level": (
            "iteration",
            np.array([r.level for r in iterations], dtype=np.float64),
            {"long_name": "level z_j: the k-th smallest maximum score", "units": "1"},
        ),
        "weight": (
            "iteration",
            np.array([r.weight for r in iterations], dtype=np.float64),
            {"long_name": "weight W_{j+1} = W_j (1 - l_j / N) after the iteration", "units": "1"},
        ),
        "killed_count": (
            "iteration",
            np.array([len(r.killed) for r in iterations], dtype=np.int64),
            {"long_name": "number of trajectories killed l_j", "units": "1"},
        ),
    }
    width = max((len(r.killed) for r in iterations), default=0)
    names = {
        "killed": "keys of the trajectories killed at the iteration (empty: padding)",
        "parents": "keys of the parents of their clones (empty: padding)",
    }
    for name, long_name in names.items():
        table = np.full((len(iterations), width), "", dtype=object)
        for j, record in enumerate(iterations):
            keys = getattr(record, name)
            table[j, : len(keys)] = [str(key) for key in keys]
        data[name] = (("iteration", "kill"), table, {"long_name": long_name})
    return data


def _versions(database: Database) -> dict[str, str]:
    """Versions of the packages that wrote the database (those installed, in memory)."""
    store = database.store
    return store.versions if isinstance(store, NetCDFStore) else package_versions()


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
