"""The forward model base class: users implement a few hooks, the framework does the rest.

A model is a stochastic dynamical system advanced step by step with noise that the framework
draws (so that runs are reproducible and branches replay their parent exactly). Subclass
`ForwardModel` and implement the protected hooks; the public methods are final and keep the
time and step bookkeeping.

Example:
    >>> class Brownian(ForwardModel[float, float]):
    ...     def _setup(self, params):
    ...         self._x = 0.0
    ...         self._sigma = params.get("sigma", 1.0)
    ...     def _advance(self, dt, noise):
    ...         self._x += self._sigma * dt**0.5 * noise
    ...         return dt
    ...     def _get_state(self):
    ...         return self._x
    ...     def _set_state(self, state):
    ...         self._x = state
    ...     def _score(self):
    ...         return self._x / 3.0
    ...     def _make_noise(self, rng):
    ...         return rng.standard_normal()
    >>> model = Brownian({"sigma": 1.5})
    >>> model.score(), model.time, model.step
    (0.0, 0.0, 0)
    >>> model.advance(0.25, 2.0)  # one step of dt = 0.25 driven by the noise 2.0
    0.25
    >>> model.state, model.score(), model.time, model.step
    (1.5, 0.5, 0.25, 1)
    >>> model.restore(0.0, time=0.0, step=0)  # back to the start (a branch would replay)
    >>> model.score(), model.time, model.step
    (0.0, 0.0, 0)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar, cast, final

import numpy as np

State = TypeVar("State")
Model = TypeVar("Model", bound="ForwardModel[Any, Any]")
Noise = TypeVar("Noise")


class ForwardModel(ABC, Generic[State, Noise]):
    """Base class of every model TAMS can sample (template method).

    Hooks to implement: `_setup`, `_advance`, `_get_state`, `_set_state`, `_score` and
    `_make_noise`. Optional: `_is_converged` (default: score >= target) and `_close`.
    A model may read `self.time` (the time at the start of the current step) in any hook.

    Args:
        params: The ``[model]`` table of the configuration.
        model_id: An integer unique to this trajectory segment, derived from the run's seed;
            only for models that must seed something of their own.
        workdir: This segment's own working directory (see `workdir`); None: the current
            directory (a model built by hand).
    """

    @final
    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        model_id: int = 0,
        workdir: Path | None = None,
    ) -> None:
        self._begin(params, model_id, None if workdir is None else Path(workdir))

    @final
    @classmethod
    def for_segment(
        cls: type[Model],
        params: Mapping[str, Any] | None,
        model_id: Callable[[], int],
        workdir: Callable[[], Path | None],
    ) -> Model:
        """A model for one segment of a run; its id and directory are derived on first use.

        What the framework calls: deriving an id (a hash of the seed) and a path costs more
        than a cheap model's whole segment, and most models use neither.
        """
        model = cls.__new__(cls)
        model._begin(params, model_id, workdir)
        return model

    def _begin(
        self,
        params: Mapping[str, Any] | None,
        model_id: int | Callable[[], int],
        workdir: Path | Callable[[], Path | None] | None,
    ) -> None:
        self._time = 0.0
        self._step = 0
        self._model_id = model_id
        self._workdir = workdir
        self._workdir_ready = False
        self._setup(dict(params or {}))

    # ----------------------------------------------------------------- hooks (user side)
    @abstractmethod
    def _setup(self, params: dict[str, Any]) -> None:
        """Read the ``[model]`` table and set the initial state."""

    @abstractmethod
    def _advance(self, dt: float, noise: Noise) -> float:
        """Advance the current state by ``dt`` with ``noise``; return the step actually taken."""

    @abstractmethod
    def _get_state(self) -> State:
        """Return the current state; the framework keeps it, so never mutate it afterwards."""

    @abstractmethod
    def _set_state(self, state: State) -> None:
        """Make ``state`` the current state."""

    @abstractmethod
    def _score(self) -> float:
        """Return the score of the current state: larger is closer to the target."""

    @abstractmethod
    def _make_noise(self, rng: np.random.Generator) -> Noise:
        """Draw the noise of one step from ``rng`` (and from nothing else)."""

    def _is_converged(self, score: float, target: float) -> bool:
        """Return True when the current state is in the target set (default: score >= target)."""
        return score >= target

    def _close(self) -> None:
        """Release external resources (processes, files); called once per segment."""

    def _noise_stream(self, generator: Callable[[], np.random.Generator]) -> Callable[[], Noise]:
        """How the framework draws each fresh step's noise (framework-internal).

        `_make_noise` on the segment's generator, built by calling ``generator``.
        """
        return partial(self._make_noise, generator())

    # ------------------------------------------------------- final API (framework side)
    @property
    def model_id(self) -> int:
        """An integer unique to this trajectory segment, derived from the run's seed.

        Only for models that must seed something of their own (0 for a model built by hand
        without one).
        """
        if not isinstance(self._model_id, int):
            self._model_id = self._model_id()
        return self._model_id

    @model_id.setter
    def model_id(self, value: int) -> None:
        self._model_id = value

    @final
    def workdir_path(self) -> Path | None:
        """This segment's working directory, not created; None for a model built by hand."""
        if callable(self._workdir):
            self._workdir = self._workdir()
        return self._workdir

    @final
    @property
    def workdir(self) -> Path:
        """A directory of this trajectory segment's own, for files the model writes.

        In a run it is ``<database>/trajectories/trajSSSSSS_GGGG`` (slot, generation: pyTAMS's
        layout), created on first use on whichever worker runs the segment; an in-memory run
        uses a temporary database directory, removed at the end. A state that is a path
        relative to the database directory (``self.workdir.parents[1]``) stays valid when
        the database is moved.
        """
        path = self.workdir_path()
        if path is None:
            return Path.cwd()
        if not self._workdir_ready:
            path.mkdir(parents=True, exist_ok=True)
            self._workdir_ready = True
        return path

    @final
    @property
    def time(self) -> float:
        """The model time."""
        return self._time

    @final
    @property
    def step(self) -> int:
        """The number of steps taken since time 0 (along the whole trajectory)."""
        return self._step

    @final
    def advance(self, dt: float, noise: Noise) -> float:
        """Advance by ``dt`` with ``noise``; return the step actually taken (0 < taken <= dt)."""
        taken = float(self._advance(dt, noise))
        if not 0.0 < taken <= dt * (1.0 + 1e-12):
            msg = (
                f"{type(self).__name__}._advance returned a time step of {taken!r} for a "
                f"requested dt={dt!r}; return the step actually taken, in (0, dt]"
            )
            raise ValueError(msg)
        self._step += 1
        self._time += taken
        return taken

    @final
    @property
    def state(self) -> State:
        """The current state (arrays are copied, so the stored value never changes)."""
        state = self._get_state()
        if isinstance(state, np.ndarray):
            return cast(State, state.copy())
        return state

    @final
    def restore(self, state: State, *, time: float, step: int) -> None:
        """Make ``state`` the current state at ``time`` after ``step`` steps."""
        self._set_state(state)
        self.set_clock(float(time), int(step))

    @final
    def set_clock(self, time: float, step: int) -> None:
        """Set the model time and step count (the framework's stepping loop calls it)."""
        self._time = time
        self._step = step

    @final
    def score(self) -> float:
        """The score of the current state, checked to be a finite number."""
        value = float(self._score())
        if not math.isfinite(value):
            msg = f"{type(self).__name__}._score returned {value!r}; a score must be finite"
            raise ValueError(msg)
        return value

    @final
    def make_noise(self, rng: np.random.Generator) -> Noise:
        """Draw the noise of one step."""
        return self._make_noise(rng)

    @final
    def is_converged(self, score: float, target: float) -> bool:
        """Whether the current state (with this score) is in the target set."""
        return bool(self._is_converged(score, target))

    @final
    def close(self) -> None:
        """Release the model's external resources."""
        self._close()
