"""The 1-D Ornstein-Uhlenbeck model the benchmarks share: dX = -X dt + dW from 0, score x / b.

A scalar model (floats): the framework's cost per step is what the benchmarks measure;
`OUPyTAMS` is the same model written against the original pyTAMS API.
``[model]`` keys: barrier (2.0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core import ForwardModel
from pytams.fmodel import ForwardModelBaseClass


class OU(ForwardModel[float, float]):
    """1-D Ornstein-Uhlenbeck with float state and noise."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.barrier = float(params.get("barrier", 2.0))
        self.x = 0.0

    def _advance(self, dt: float, noise: float) -> float:
        self.x += -self.x * dt + math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> float:
        return self.x

    def _set_state(self, state: float) -> None:
        self.x = state

    def _score(self) -> float:
        return self.x / self.barrier

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())


class OUPyTAMS(ForwardModelBaseClass):
    """The same OU written against the original pyTAMS API (it draws its own noise).

    As pyTAMS models do, it seeds its generator with ``m_id`` when ``deterministic`` is set
    (pytams always sets it).
    """

    def _init_model(self, m_id: int, params: dict[str, Any]) -> None:
        model = params["model"]
        self.barrier = float(model.get("barrier", 2.0))
        seed = m_id if model["deterministic"] else None
        self.rng = np.random.default_rng(seed)
        self.x = 0.0

    def _advance(
        self, step: int, time: float, dt: float, noise: Any, need_end_state: bool
    ) -> float:
        self.x += -self.x * dt + math.sqrt(dt) * noise
        return dt

    def get_current_state(self) -> float:
        return self.x

    def set_current_state(self, state: Any) -> None:
        self.x = state

    def score(self) -> float:
        return self.x / self.barrier

    def make_noise(self) -> float:
        return float(self.rng.standard_normal())
