"""Brownian motion with drift, the example model of the README (a template to copy).

dX = mu dt + sigma dW from X(0) = x0, stepped by Euler-Maruyama. The score reaches 1 exactly
when X reaches the barrier b. The default score is static, x / b. With ``time_aware = true``
(and the horizon T given as ``horizon``) it is 1 - (b - x) / (b sqrt((T - t) / T)), whose level
sets are those of the committor of driftless Brownian motion, P(reach b before T | X_t = x)
= 2 (1 - Phi((b - x) / (sigma sqrt(T - t)))): an almost ideal score, so TAMS has almost the
smallest variance possible, -ln(p) / N on the log scale. The exact probability of the Euler
chain is in tests/data/brownian.csv: with mu = 0, sigma = 1, T = 1, dt = 0.01 and barrier 4 it
is 5.056e-5.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core import ForwardModel


class BrownianMotion(ForwardModel[float, float]):
    """1-D Brownian motion with drift.

    ``[model]`` keys: mu, sigma, x0, barrier, time_aware, horizon.
    """

    def _setup(self, params: dict[str, Any]) -> None:
        self.mu = float(params.get("mu", 0.0))
        self.sigma = float(params.get("sigma", 1.0))
        self.barrier = float(params.get("barrier", 4.0))
        self.x = float(params.get("x0", 0.0))
        self.time_aware = bool(params.get("time_aware", False))
        self.horizon = float(params.get("horizon", 1.0))

    def _advance(self, dt: float, noise: float) -> float:
        self.x = self.x + self.mu * dt + self.sigma * math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> float:
        return self.x

    def _set_state(self, state: float) -> None:
        self.x = state

    def _score(self) -> float:
        if not self.time_aware:
            return self.x / self.barrier
        remaining = max(self.horizon - self.time, 1e-12 * self.horizon)
        return 1.0 - (self.barrier - self.x) / (self.barrier * math.sqrt(remaining / self.horizon))

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())
