"""The model base class of the original pyTAMS, so that models written for it run unchanged.

A file that starts with ``from pytams.fmodel import ForwardModelBaseClass`` and implements
``_init_model``, ``_advance``, ``get_current_state``, ``set_current_state``, ``score`` and
``make_noise`` (optionally ``check_convergence`` and ``_clear_model``) runs through
`pytams.core.compat`. New models should subclass `pytams.core.ForwardModel` instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, final


class ForwardModelBaseClass(ABC):
    """The pyTAMS model API (method names and signatures as the original documents them).

    Args:
        a_id: An id unique to this model instance (one per trajectory segment), derived from
            the run's seed.
        params: The whole parameter dictionary; ``params["model"]["deterministic"]`` is set
            from ``[tams] deterministic`` (which pytams always sets: see `pytams.core.compat`).
        workdir: The segment's working directory, ``<database>/trajectories/trajSSSSSS_GGGG``
            (its parent exists; the model makes it if it writes there, as with pyTAMS
            1.0.0), so ``workdir.parents[1]`` is the database.
    """

    @final
    def __init__(
        self, a_id: int, params: dict[str, Any] | None = None, workdir: Path | None = None
    ) -> None:
        params = {} if params is None else params
        tams = params.get("tams", {})
        model = params.setdefault("model", {})
        model["deterministic"] = bool(tams.get("deterministic", False))
        self._id = a_id
        self._step = 0
        self._time = 0.0
        self._noise: Any = None
        self._workdir = Path.cwd() if workdir is None else Path(workdir)
        self._init_model(a_id, params)
        self._noise = self.make_noise()  # as pyTAMS 1.0.0: the noise has its type from the start

    @final
    def advance(self, dt: float, need_end_state: bool = True) -> float:
        """Advance one step with the current noise; return the step actually taken."""
        actual_dt = self._advance(self._step, self._time, dt, self._noise, need_end_state)
        self._step += 1
        self._time += actual_dt
        return actual_dt

    @final
    def get_noise(self) -> Any:
        """The noise of the next step (pyTAMS 1.0.0 API)."""
        return self._noise

    @final
    def set_noise(self, a_noise: Any) -> None:
        """Set the noise of the next step (pyTAMS 1.0.0 API)."""
        self._noise = a_noise

    @property
    def noise(self) -> Any:
        """The noise of the next step (the later pyTAMS API; same as `get_noise`)."""
        return self._noise

    @noise.setter
    def noise(self, a_noise: Any) -> None:
        self._noise = a_noise

    @final
    def set_clock(self, step: int, time: float) -> None:
        """Set the step count and time (the framework calls it before each step)."""
        self._step = step
        self._time = time

    @final
    def clear(self) -> None:
        """Release the model's resources."""
        self._clear_model()

    @final
    def set_workdir(self, workdir: Path) -> None:
        """Set the model's working directory."""
        self._workdir = Path(workdir)

    @final
    def post_trajectory_branching_hook(self, step: int, time: float) -> None:
        """Called after the model was set to a parent's state to start a branch."""
        self._step = step
        self._time = time
        self._trajectory_branching_hook()

    @final
    def post_trajectory_restore_hook(self, step: int, time: float) -> None:
        """Called after the model was restored from a stored state."""
        self._step = step
        self._time = time
        self._trajectory_restore_hook()

    def _trajectory_branching_hook(self) -> None:  # noqa: B027
        """Model-specific work after branching (optional)."""

    def _trajectory_restore_hook(self) -> None:  # noqa: B027
        """Model-specific work after a restore (optional)."""

    def check_convergence(
        self, step: int, time: float, current_score: float, target_score: float
    ) -> bool:
        """Whether the model reached the target set (default: score >= target)."""
        del step, time
        return current_score >= target_score

    def _clear_model(self) -> None:  # noqa: B027
        """Release the concrete model's resources (optional)."""

    @classmethod
    def name(cls) -> str:
        """The model's name."""
        return cls.__name__

    @abstractmethod
    def _init_model(self, m_id: int, params: dict[str, Any]) -> None:
        """Initialise the model from the parameter dictionary."""

    @abstractmethod
    def _advance(
        self, step: int, time: float, dt: float, noise: Any, need_end_state: bool
    ) -> float:
        """Advance by dt with the given noise; return the step actually taken."""

    @abstractmethod
    def get_current_state(self) -> Any:
        """Return the current state."""

    @abstractmethod
    def set_current_state(self, state: Any) -> None:
        """Set the current state."""

    @abstractmethod
    def score(self) -> float:
        """Return the score of the current state."""

    @abstractmethod
    def make_noise(self) -> Any:
        """Return the noise of one step."""
