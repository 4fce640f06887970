"""Brownian motion with drift: the closed-form reference case.

Equation (Euler-Maruyama with the framework's step dt and a standard normal noise xi)::

    dX = mu dt + sigma dW,   X(0) = x0;   X_{n+1} = X_n + mu dt + sigma sqrt(dt) xi_n.

Score ``(x - x0) / (barrier - x0)``: with ``target_score = 1`` a trajectory converges when X
reaches the barrier.

``[model]`` parameters: ``mu`` (0), ``sigma`` (1), ``x0`` (0), ``barrier`` (4, above x0).

Known answer: the continuous process has the closed form (reflection principle with drift)::

    P(max_{t <= T} X_t >= B) = Phi((mu T - a) / (sigma sqrt T))
                               + exp(2 mu a / sigma^2) Phi((-mu T - a) / (sigma sqrt T)),

with a = B - x0; the Euler chain TAMS samples (monitored at the steps only) has a smaller
probability, computed exactly by `pytams.models.reference.euler_chain_probability`: for
mu = 0, sigma = 1, T = 1, dt = 0.01, B = 4 it is 5.0562e-5 against 6.3342e-5.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pytams.core.batch import BatchedModel
from pytams.core.config import TrajectorySettings
from pytams.core.errors import ConfigError
from pytams.models._known import KnownAnswer, number
from pytams.models.reference import brownian_probability, euler_chain_probability


class BrownianDrift(BatchedModel):
    """Brownian motion with drift (1-D); state and noise are arrays of one number.

    A batched model: the engine advances whole ensembles in one call (same results).
    """

    def _setup(self, params: dict[str, Any]) -> None:
        self.mu, self.sigma, self.x0, self.barrier = _parameters(params)
        self.x = np.array([self.x0])

    def _advance_batch(
        self, states: np.ndarray, times: Any, dt: Any, noise: np.ndarray
    ) -> np.ndarray:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        return np.asarray(states + self.mu * step + self.sigma * np.sqrt(step) * noise)

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        return np.asarray((states[:, 0] - self.x0) / (self.barrier - self.x0))

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(1)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        return rng.standard_normal((steps, 1))

    @classmethod
    def known_answer(cls, params: Mapping[str, Any], trajectory: TrajectorySettings) -> KnownAnswer:
        """The Euler chain's exact probability, and the closed form of the continuous one."""
        mu, sigma, x0, barrier = _parameters(params)
        level = x0 + trajectory.target_score * (barrier - x0)
        return KnownAnswer(
            probability=euler_chain_probability(
                mu,
                sigma,
                x0=x0,
                barrier=level,
                end_time=trajectory.end_time,
                dt=trajectory.step_size,
            ),
            source="Euler chain, exact (pytams.models.reference)",
            continuous=brownian_probability(mu, sigma, x0, level, trajectory.end_time),
        )


def _parameters(params: Mapping[str, Any]) -> tuple[float, float, float, float]:
    name = "BrownianDrift"
    mu = number(params, "mu", 0.0, model=name)
    sigma = number(params, "sigma", 1.0, positive=True, model=name)
    x0 = number(params, "x0", 0.0, model=name)
    barrier = number(params, "barrier", 4.0, model=name)
    if barrier <= x0:
        msg = f"[model] barrier = {barrier} must be above x0 = {x0}; raise the barrier"
        raise ConfigError(msg)
    return mu, sigma, x0, barrier
