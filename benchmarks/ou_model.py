"""The 1-D Ornstein-Uhlenbeck model the benchmarks share: dX = -X dt + dW from 0, score x / b.

A scalar model (floats): the framework's cost per step is what the benchmarks measure.
``[model]`` keys: barrier (2.0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core import ForwardModel


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
