"""Brownian motion with drift, the example model of the README (a template to copy).

dX = mu dt + sigma dW from X(0) = x0, stepped by Euler-Maruyama; score x / barrier, so the
target score 1 means "X reached the barrier". The exact probability of the Euler chain is in
shared reference data (and the test suite): with mu = 0, sigma = 1, T = 1, dt = 0.01 and
barrier 4 it is 5.056e-5.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core import ForwardModel


class BrownianMotion(ForwardModel[float, float]):
    """1-D Brownian motion with drift; ``[model]`` keys: mu, sigma, x0, barrier."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.mu = float(params.get("mu", 0.0))
        self.sigma = float(params.get("sigma", 1.0))
        self.barrier = float(params.get("barrier", 4.0))
        self.x = float(params.get("x0", 0.0))

    def _advance(self, dt: float, noise: float) -> float:
        self.x = self.x + self.mu * dt + self.sigma * math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> float:
        return self.x

    def _set_state(self, state: float) -> None:
        self.x = state

    def _score(self) -> float:
        return self.x / self.barrier

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())
