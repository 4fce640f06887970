"""An OU model whose state is a large vector (10^6 doubles: 8 MB), for the driver memory test."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core import ForwardModel


class BigStateOU(ForwardModel[np.ndarray, float]):
    """dX = -X dt + dW on every component alike; the score is component 0 over 4."""

    x: np.ndarray

    def _setup(self, params: dict[str, Any]) -> None:
        self.x = np.zeros(int(params.get("size", 1_000_000)))

    def _advance(self, dt: float, noise: float) -> float:
        self.x *= 1.0 - dt
        self.x += math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> np.ndarray:
        return np.array(self.x, copy=True)

    def _set_state(self, state: np.ndarray) -> None:
        self.x = np.array(state, dtype=float, copy=True)

    def _score(self) -> float:
        return float(self.x[0]) / 4.0

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())
