"""Run a model written for the original pyTAMS base class through `ForwardModel`.

`model_factory` turns either kind of model class into a function that builds a `ForwardModel`
for one trajectory segment.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.model import ForwardModel
from pytams.fmodel import ForwardModelBaseClass

ModelId = int | Callable[[], int]
Workdir = Path | None | Callable[[], Path | None]
ModelFactory = Callable[[ModelId, Workdir], ForwardModel[Any, Any]]


class PyTAMSModel(ForwardModel[Any, Any]):
    """Adapter: a `ForwardModel` delegating to a wrapped pyTAMS `ForwardModelBaseClass`.

    The wrapped model draws its own noise (``make_noise`` takes no generator in pyTAMS), from
    a generator it seeds with ``m_id`` when ``deterministic`` is set: the adapter always sets
    it, and ``m_id`` derives from the run's seed, so a run is reproducible from its seed. The
    framework stores that noise with every snapshot, so branches replay exactly. The model
    is given its own working directory (pyTAMS's ``<database>/trajectories/trajSSSSSS_GGGG``);
    as pyTAMS 1.0.0 does, the framework makes ``<database>/trajectories`` and the model makes
    its own directory if it writes files there. It is asked for its end state
    (``need_end_state``) only on the steps whose state is kept. Its clock is set when it
    starts or branches; then it counts its steps and time as the framework does.
    """

    wrapped: type[ForwardModelBaseClass]
    store_state_every: int = 1

    def _setup(self, params: dict[str, Any]) -> None:
        workdir = self.workdir_path()
        if workdir is not None:
            _make_parent(workdir.parent)
        inner = self._inner = self.wrapped(self.model_id, params, workdir)
        self._branched = False
        # the hot loop calls the wrapped model's own methods, with no adapter call between
        self._score = inner.score  # type: ignore[method-assign]
        self._get_state = inner.get_current_state  # type: ignore[method-assign]

    def _advance(self, dt: float, noise: Any) -> float:
        inner = self._inner
        if self._branched:
            inner.post_trajectory_branching_hook(self.step, self.time)
            self._branched = False
        inner._noise = noise  # set_noise
        every = self.store_state_every
        return inner.advance(dt, every == 1 or (self._step + 1) % every == 0)

    def _get_state(self) -> Any:
        return self._inner.get_current_state()

    def _set_state(self, state: Any) -> None:
        self._inner.set_current_state(state)
        self._branched = True

    def _score(self) -> float:
        return self._inner.score()

    def _make_noise(self, rng: np.random.Generator) -> Any:
        del rng  # a pyTAMS model owns its generator (seeded from m_id when deterministic)
        return self._inner.make_noise()

    def _noise_stream(self, generator: Callable[[], np.random.Generator]) -> Callable[[], Any]:
        del generator  # not built: the wrapped model draws its own noise
        return self._inner.make_noise

    def _close(self) -> None:
        self._inner.clear()


class _OwnConvergence(PyTAMSModel):
    """The adapter of a model that overrides ``check_convergence``."""

    def _is_converged(self, score: float, target: float) -> bool:
        return self._inner.check_convergence(self.step, self.time, score, target)


@cache
def _adapter_class(wrapped: type[ForwardModelBaseClass]) -> type[PyTAMSModel]:
    """The adapter class of ``wrapped``.

    Without a convergence test of its own, the default (score >= target in both APIs) is
    the framework's: one hook call per step fewer.
    """
    own = wrapped.check_convergence is not ForwardModelBaseClass.check_convergence
    base = _OwnConvergence if own else PyTAMSModel
    return type(f"{wrapped.__name__}Adapter", (base,), {"wrapped": wrapped})


def _make_parent(directory: Path) -> None:
    """Make ``<database>/trajectories`` unless it exists (one stat per segment)."""
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)


def is_model_class(obj: object) -> bool:
    """Whether ``obj`` is a model class of either kind."""
    return isinstance(obj, type) and issubclass(obj, (ForwardModel, ForwardModelBaseClass))


def _source(value: Any) -> Callable[[], Any]:
    """``value`` as a function that returns it (a function is returned as it is)."""
    return value if callable(value) else lambda: value


_IMMUTABLE = (str, int, float, bool, type(None), datetime.date, datetime.time)


def fresh_copy(tables: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of configuration tables, fast for what TOML holds (a model may edit it).

    Tables and arrays are copied, immutable values shared; anything else is deep-copied.
    """
    return {key: _fresh(value) for key, value in tables.items()}


def _fresh(value: Any) -> Any:
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, Mapping):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return copy.deepcopy(value)


def model_factory(
    model_class: type[Any],
    model_params: Mapping[str, Any],
    full_params: Mapping[str, Any],
    *,
    store_state_every: int = 1,
) -> ModelFactory:
    """Return ``build(model_id, workdir)`` making one model instance per trajectory segment.

    ``model_id`` and ``workdir`` are values or functions returning them (called on first use).

    Args:
        model_class: A `ForwardModel` subclass or a pyTAMS `ForwardModelBaseClass` subclass.
        model_params: The ``[model]`` table, for a `ForwardModel`.
        full_params: Every table of the configuration, for a pyTAMS model (which reads
            ``params["model"]`` itself); ``[tams] deterministic`` is set to true there.
        store_state_every: For a pyTAMS model: the steps whose end state is needed.
    """
    if issubclass(model_class, ForwardModelBaseClass):
        adapter = _adapter_class(model_class)

        def build_pytams(model_id: ModelId, workdir: Workdir) -> ForwardModel[Any, Any]:
            params = fresh_copy(full_params)
            params["tams"] = {**params.get("tams", {}), "deterministic": True}
            model: PyTAMSModel = adapter.for_segment(params, _source(model_id), _source(workdir))
            model.store_state_every = store_state_every
            return model

        return build_pytams
    if issubclass(model_class, ForwardModel):

        def build(model_id: ModelId, workdir: Workdir) -> ForwardModel[Any, Any]:
            native: ForwardModel[Any, Any] = model_class.for_segment(
                model_params, _source(model_id), _source(workdir)
            )
            return native

        return build
    msg = (
        f"{model_class!r} is not a model class: subclass pytams.core.ForwardModel "
        "(or pyTAMS's pytams.fmodel.ForwardModelBaseClass)"
    )
    raise TypeError(msg)
