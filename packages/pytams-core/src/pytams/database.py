"""The database of the original pyTAMS, read-only over a pytams database.

Post-processing scripts written for pyTAMS 1.0.0 keep working::

    from pytams.database import Database

    tdb = Database.load(Path("db.tams"))
    tdb.load_data(load_archived_trajectories=True)
    for t in tdb.traj_list():
        print(t.idstr(), t.score_max(), t.is_converged())

This is the reading part of pyTAMS's class (what its examples and documentation use); the
parts that wrote the database during a run belong to the engine (`pytams.core.TAMS`). New
code can read the same data through `pytams.core.Database` and `pytams.io.open_database`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pytams.core.database import Database as CoreDatabase
from pytams.core.errors import MissingComponentError
from pytams.core.store import IterationRecord
from pytams.core.trajectory import Trajectory, TrajectoryKey

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_logger = logging.getLogger(__name__)

__all__ = ["Database", "TrajectoryView"]


class TrajectoryView:
    """A stored trajectory with pyTAMS's `Trajectory` accessors (read-only).

    Args:
        trajectory: The trajectory to show.
    """

    def __init__(self, trajectory: Trajectory) -> None:
        self.trajectory = trajectory

    def __repr__(self) -> str:
        return f"TrajectoryView({self.idstr()})"

    def id(self) -> int:
        """The trajectory's index in the ensemble (its slot)."""
        return self.trajectory.key.slot

    def idstr(self) -> str:
        """PyTAMS's name of the trajectory: ``trajSSSSSS_GGGG`` (slot, branchings)."""
        key = self.trajectory.key
        return f"traj{key.slot:06}_{key.generation:04}"

    def score_max(self) -> float:
        """The largest score along the trajectory."""
        return self.trajectory.max_score

    def is_converged(self) -> bool:
        """Whether the trajectory reached the target."""
        return self.trajectory.converged

    def has_ended(self) -> bool:
        """Always True: a stored trajectory is finished."""
        return True

    def current_time(self) -> float:
        """The time of the last snapshot."""
        return self.trajectory.end_time

    def get_time_array(self) -> npt.NDArray[np.float64]:
        """The snapshots' times."""
        return np.asarray(self.trajectory.times, dtype=np.float64)

    def get_score_array(self) -> npt.NDArray[np.float64]:
        """The snapshots' scores."""
        return np.asarray(self.trajectory.scores, dtype=np.float64)

    def get_noise_array(self) -> npt.NDArray[Any]:
        """The noises, one per snapshot: entry i is the noise of the step that led to it.

        The first snapshot has none (pytams stores the noise with the step it drove, where
        pyTAMS stored it with the step's start): its entry is NaN, in the noise's shape.
        """
        noises = self.trajectory.noises
        if isinstance(noises, np.ndarray):
            return noises
        given = [n for n in noises if n is not None]
        if not given:
            return np.full(len(noises), np.nan)
        template = np.asarray(given[0])
        filler = np.full(template.shape, np.nan) if template.dtype.kind in "fc" else None
        return np.array([filler if n is None else n for n in noises])

    def get_state_list(self) -> list[tuple[int, Any]]:
        """``(snapshot index, state)`` for every snapshot that holds a state (as pyTAMS)."""
        states = self.trajectory.states
        if isinstance(states, np.ndarray):
            return list(enumerate(states))
        return [(i, state) for i, state in enumerate(states) if state is not None]

    def get_last_state(self) -> Any:
        """The last stored state (None if no snapshot holds one)."""
        kept = self.get_state_list()
        return kept[-1][1] if kept else None

    def get_length(self) -> int:
        """The number of snapshots."""
        return len(self.trajectory)

    def get_nbranching(self) -> int:
        """How many times the trajectory's slot was branched into (its generation)."""
        return self.trajectory.key.generation

    def get_computed_steps_count(self) -> int:
        """Model steps spent on this trajectory (its own segment, replays included)."""
        return self.trajectory.model_steps


class Database:
    """PyTAMS's database, read-only: the ensemble, the archive and the splitting data.

    Args:
        db: The pytams database to show (a finished run's ``result.database``, or one opened
            by `pytams.io.open_database`). `load` opens one from disk; pyTAMS's own
            constructor, which took a model and a parameter dictionary, is not provided.
    """

    def __init__(self, db: CoreDatabase) -> None:
        self.db = db
        iterations = db.iterations
        if db.pending is not None:  # the clones of the last iteration are not all committed
            iterations = iterations[:-1]
        self._iterations: list[IterationRecord] = iterations
        self._cache: dict[TrajectoryKey, Trajectory] = {}
        self._ensemble: list[TrajectoryView] | None = None
        self._archived: list[TrajectoryView] | None = None

    @classmethod
    def load(cls, path: Path | str, read_only: bool = True) -> Database:
        """Open the on-disk database at ``path`` (a run's ``[database] path``).

        Args:
            path: The database directory.
            read_only: Accepted for pyTAMS's signature; the database is always opened
                read-only (a run writes it through `pytams.core.TAMS` or `pytams.tams.TAMS`).

        Raises:
            MissingComponentError: When pytams-io is not installed.
            StorageError: When ``path`` holds no pytams database.
        """
        open_database = _optional(
            "pytams.io",
            "open_database",
            "Database.load reads on-disk databases with pytams-io: pip install pytams-io",
        )
        del read_only
        return cls(open_database(path))

    # ------------------------------------------------------------------ trajectories
    def load_data(self, load_archived_trajectories: bool = False) -> None:
        """Read the ensemble (and the archived trajectories if asked) and log `info`.

        The accessors read what they need on first use, so calling this is optional.
        """
        self.traj_list()
        if load_archived_trajectories:
            self.archived_trajectories()
        self.info()

    def traj_list(self) -> list[TrajectoryView]:
        """The current ensemble in slot order (empty before the initial ensemble is done)."""
        if self._ensemble is None:
            self._ensemble = [self._view(t.key, t) for t in self.db.ensemble or []]
        return list(self._ensemble)

    def get_traj(self, idx: int) -> TrajectoryView:
        """The trajectory of the ensemble in slot ``idx``.

        Raises:
            ValueError: When ``idx`` is not a slot of the ensemble.
        """
        ensemble = self.traj_list()
        if not 0 <= idx < len(ensemble):
            msg = f"no trajectory {idx} in an ensemble of {len(ensemble)}"
            raise ValueError(msg)
        return ensemble[idx]

    def traj_list_len(self) -> int:
        """The number of trajectories in the ensemble."""
        return len(self.traj_list())

    def archived_trajectories(self) -> list[TrajectoryView]:
        """The killed (archived) trajectories, in the order they were killed."""
        if self._archived is None:
            killed = [key for record in self._iterations for key in record.killed]
            self._archived = [self._view(key) for key in killed]
        return list(self._archived)

    def archived_traj_list(self) -> list[TrajectoryView]:
        """The killed trajectories (same as `archived_trajectories`)."""
        return self.archived_trajectories()

    def archived_traj_list_len(self) -> int:
        """The number of killed trajectories."""
        return len(self.archived_trajectories())

    def get_trajectory_active_at_k(self, k: int) -> list[TrajectoryView]:
        """The ensemble as it was at the start of iteration ``k`` (0: the initial ensemble).

        ``k`` counts iterations (each may kill several trajectories); ``k = k_split()``
        gives the current ensemble.

        Raises:
            ValueError: When ``k`` is not between 0 and `k_split`.
        """
        if not 0 <= k <= len(self._iterations):
            msg = f"iteration {k} is not in the database (0 to {len(self._iterations)})"
            raise ValueError(msg)
        return [self._view(key) for key in self._keys_at(k)]

    # ------------------------------------------------------------------ splitting data
    def n_traj(self) -> int:
        """N, the ensemble size."""
        config = (self.db.metadata or {}).get("config", {})
        n = config.get("tams", {}).get("ntrajectories")
        return int(n) if n is not None else len(self.db.ensemble or [])

    def k_split(self) -> int:
        """The number of iterations done."""
        return len(self._iterations)

    def weights(self) -> list[float]:
        """The ensemble's weight before the first iteration (1.0) and after each one."""
        return [1.0] + [record.weight for record in self._iterations]

    def biases(self) -> list[int]:
        """The number of trajectories killed at each iteration."""
        return [len(record.killed) for record in self._iterations]

    def get_transition_probability(self) -> float:
        """W_J times the fraction of the ensemble that converged (0 before it exists)."""
        ensemble = self.traj_list()
        if not ensemble:
            return 0.0
        converged = sum(t.is_converged() for t in ensemble)
        return self.weights()[-1] * converged / len(ensemble)

    def name(self) -> str:
        """The database's directory, or ``"in-memory"``."""
        path = self.db.store.location
        return "in-memory" if path is None else str(path)

    def info(self) -> str:
        """A short summary of the database; also logged at INFO."""
        metadata = self.db.metadata or {}
        ensemble = self.traj_list()
        lines = [
            f"pytams database {self.name()}",
            f"  model:                   {metadata.get('model', '?')}",
            f"  trajectories (N):        {self.n_traj()}",
            f"  stored trajectories:     {len(self.db.stored_keys())}",
            f"  converged trajectories:  {sum(t.is_converged() for t in ensemble)}",
            f"  iterations:              {self.k_split()}",
            f"  transition probability:  {self.get_transition_probability():.6g}",
        ]
        text = "\n".join(lines)
        _logger.info("%s", text)
        return text

    # ------------------------------------------------------------------ plots
    def plot_score_functions(self, fname: str | None = None, plot_archived: bool = False) -> None:
        """Plot the score against time of every trajectory of the ensemble to ``fname``.

        Args:
            fname: The image file (default: ``<database name>_scores.png``).
            plot_archived: Also plot the killed trajectories.

        Raises:
            MissingComponentError: When matplotlib is not installed.
        """
        figure_class = _figure_class()
        trajectories = self.traj_list()
        if plot_archived:
            trajectories += self.archived_trajectories()
        figure = figure_class(figsize=(10, 6))
        axes = figure.add_subplot()
        for t in trajectories:
            axes.plot(t.get_time_array(), t.get_score_array(), linewidth=0.8)
        axes.set_xlabel("Time")
        axes.set_ylabel("Score")
        axes.set_xlim(left=0.0)
        axes.grid(linestyle="dotted")
        figure.tight_layout()
        figure.savefig(fname or f"{self._stem()}_scores.png", dpi=150)

    def plot_min_max_span(self, fname: str | None = None) -> None:
        """Plot the smallest and the largest maximum score of the ensemble per iteration.

        Args:
            fname: The image file (default: ``<database name>_minmax.png``).

        Raises:
            MissingComponentError: When matplotlib is not installed.
        """
        figure_class = _figure_class()
        span = self._min_max_span()
        figure = figure_class(figsize=(6, 4))
        axes = figure.add_subplot()
        steps = np.arange(len(span))
        axes.plot(steps, [low for low, _ in span], linewidth=1.0, label="min of maxes")
        axes.plot(steps, [high for _, high in span], linewidth=1.0, label="max of maxes")
        axes.set_xlabel("Iteration")
        axes.set_ylabel("Score")
        axes.grid(linestyle="dotted")
        axes.legend()
        figure.tight_layout()
        figure.savefig(fname or f"{self._stem()}_minmax.png", dpi=150)

    # ------------------------------------------------------------------ helpers
    def _trajectory(self, key: TrajectoryKey) -> Trajectory:
        if key not in self._cache:
            self._cache[key] = self.db.trajectory(key)
        return self._cache[key]

    def _view(self, key: TrajectoryKey, trajectory: Trajectory | None = None) -> TrajectoryView:
        if trajectory is not None:
            self._cache.setdefault(key, trajectory)
        return TrajectoryView(self._trajectory(key))

    def _keys_at(self, k: int) -> list[TrajectoryKey]:
        """The ensemble's keys at the start of iteration ``k``, from the iteration table."""
        keys = [TrajectoryKey(slot) for slot in range(self.n_traj())]
        for record in self._iterations[:k]:
            _replace(keys, record.killed, record.clones)
        return keys

    def _min_max_span(self) -> list[tuple[float, float]]:
        """(min, max) of the ensemble's maximum scores at the start of each iteration."""
        if self.db.ensemble is None:
            return []
        maxima: dict[TrajectoryKey, float] = {}
        keys = self._keys_at(0)
        span = []
        for k in range(len(self._iterations) + 1):
            if k > 0:
                record = self._iterations[k - 1]
                _replace(keys, record.killed, record.clones)
            for key in keys:
                if key not in maxima:
                    maxima[key] = self.db.trajectory(key).max_score
            values = [maxima[key] for key in keys]
            span.append((min(values), max(values)))
        return span

    def _stem(self) -> str:
        name = self.name()
        return "TAMS" if name == "in-memory" else Path(name).stem


def _replace(
    keys: list[TrajectoryKey],
    killed: Sequence[TrajectoryKey],
    clones: Sequence[TrajectoryKey],
) -> None:
    """Put each clone in the slot of the trajectory it replaces."""
    for old, new in zip(killed, clones, strict=False):
        keys[old.slot] = new


def _figure_class() -> type[Figure]:
    """Matplotlib's `Figure` (drawn without pyplot, so no display or backend is needed)."""
    figure: type[Figure] = _optional(
        "matplotlib.figure",
        "Figure",
        "the plots of pytams.database need matplotlib: pip install matplotlib",
    )
    return figure


def _optional(module: str, name: str, missing: str) -> Any:
    """``name`` from an optional dependency, or `MissingComponentError` saying ``missing``."""
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise  # a module that the optional dependency itself imports
        raise MissingComponentError(missing) from None
    return getattr(imported, name)
