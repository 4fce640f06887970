"""Run a model written for the original pyTAMS base class through `ForwardModel`.

`model_factory` turns either kind of model class into a function that builds a `ForwardModel`
for one trajectory segment.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.model import ForwardModel
from pytams.fmodel import ForwardModelBaseClass

ModelFactory = Callable[[int, Path | None], ForwardModel[Any, Any]]


class PyTAMSModel(ForwardModel[Any, Any]):
    """Adapter: a `ForwardModel` delegating to a wrapped pyTAMS `ForwardModelBaseClass`.

    The wrapped model draws its own noise (``make_noise`` takes no generator in pyTAMS), from
    a generator it seeds with ``m_id`` when ``deterministic`` is set: the adapter always sets
    it, and ``m_id`` derives from the run's seed, so a run is reproducible from its seed. The
    framework stores that noise with every snapshot, so branches replay exactly. The model
    is built in its own working directory (pyTAMS's ``<database>/trajectories/trajSSSSSS_GGGG``)
    and is asked for its end state (``need_end_state``) only on the steps whose state is kept.
    """

    wrapped: type[ForwardModelBaseClass]
    store_state_every: int = 1

    def _setup(self, params: dict[str, Any]) -> None:
        self._inner = self.wrapped(self.model_id, params, self.workdir)
        self._branched = False

    def _advance(self, dt: float, noise: Any) -> float:
        inner = self._inner
        if self._branched:
            inner.post_trajectory_branching_hook(self.step, self.time)
            self._branched = False
        inner.set_clock(self.step, self.time)
        inner.set_noise(noise)
        return inner.advance(dt, (self.step + 1) % self.store_state_every == 0)

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

    def _is_converged(self, score: float, target: float) -> bool:
        return self._inner.check_convergence(self.step, self.time, score, target)

    def _close(self) -> None:
        self._inner.clear()


@cache
def _adapter_class(wrapped: type[ForwardModelBaseClass]) -> type[PyTAMSModel]:
    return type(f"{wrapped.__name__}Adapter", (PyTAMSModel,), {"wrapped": wrapped})


def is_model_class(obj: object) -> bool:
    """Whether ``obj`` is a model class of either kind."""
    return isinstance(obj, type) and issubclass(obj, (ForwardModel, ForwardModelBaseClass))


def model_factory(
    model_class: type[Any],
    model_params: Mapping[str, Any],
    full_params: Mapping[str, Any],
    *,
    store_state_every: int = 1,
) -> ModelFactory:
    """Return ``build(model_id, workdir)`` making one model instance per trajectory segment.

    Args:
        model_class: A `ForwardModel` subclass or a pyTAMS `ForwardModelBaseClass` subclass.
        model_params: The ``[model]`` table, for a `ForwardModel`.
        full_params: Every table of the configuration, for a pyTAMS model (which reads
            ``params["model"]`` itself); ``[tams] deterministic`` is set to true there.
        store_state_every: For a pyTAMS model: the steps whose end state is needed.
    """
    if issubclass(model_class, ForwardModelBaseClass):
        adapter = _adapter_class(model_class)

        def build_pytams(model_id: int, workdir: Path | None) -> ForwardModel[Any, Any]:
            params = copy.deepcopy(dict(full_params))
            params["tams"] = {**params.get("tams", {}), "deterministic": True}
            model = adapter(params, model_id=model_id, workdir=workdir)
            model.store_state_every = store_state_every
            return model

        return build_pytams
    if issubclass(model_class, ForwardModel):

        def build(model_id: int, workdir: Path | None) -> ForwardModel[Any, Any]:
            return model_class(model_params, model_id=model_id, workdir=workdir)

        return build
    msg = (
        f"{model_class!r} is not a model class: subclass pytams.core.ForwardModel "
        "(or pyTAMS's pytams.fmodel.ForwardModelBaseClass)"
    )
    raise TypeError(msg)
