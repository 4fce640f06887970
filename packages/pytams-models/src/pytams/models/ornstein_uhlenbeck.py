"""Ornstein-Uhlenbeck process in d dimensions, with a linear score.

Equation (isotropic, Euler-Maruyama, xi a standard normal d-vector)::

    dX = -theta X dt + sigma dW,   X(0) = x0 in R^d;
    X_{n+1} = X_n - theta X_n dt + sigma sqrt(dt) xi_n.

Score ``w . x / (norm(w) barrier)``: linear; with ``target_score = 1`` a trajectory converges when
the projection of X on the direction w reaches the barrier.

``[model]`` parameters: ``dim`` (2), ``theta`` (1), ``sigma`` (1), ``x0`` (the origin; a list
of dim numbers or one number), ``direction`` w (all ones), ``barrier`` (3).

Known answer: the projection Y = w . X / norm(w) is itself a 1-D Ornstein-Uhlenbeck chain,
Y_{n+1} = Y_n - theta Y_n dt + sigma sqrt(dt) eta_n with eta_n standard normal (the noise is
isotropic), so the probability is that of a 1-D problem, computed exactly for the Euler
chain (and the continuous process) by `pytams.models.reference`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytams.core.batch import BatchedModel
from pytams.core.config import TrajectorySettings
from pytams.core.errors import ConfigError
from pytams.models._known import KnownAnswer, integer, number, vector
from pytams.models.reference import continuous_probability, euler_chain_probability

Vector = NDArray[np.float64]
_NAME = "OrnsteinUhlenbeck"


class OrnsteinUhlenbeck(BatchedModel):
    """Isotropic d-dimensional Ornstein-Uhlenbeck process; state and noise are d-vectors.

    A batched model: the engine advances whole ensembles in one call (same results).
    """

    def _setup(self, params: dict[str, Any]) -> None:
        self.dim = integer(params, "dim", 2, model=_NAME)
        self.theta = number(params, "theta", 1.0, positive=True, model=_NAME)
        self.sigma = number(params, "sigma", 1.0, positive=True, model=_NAME)
        self.barrier = number(params, "barrier", 3.0, model=_NAME)
        self.x = vector(params, "x0", [0.0] * self.dim, self.dim, model=_NAME)
        self.unit = _unit(params, self.dim)

    def _advance_batch(self, states: Vector, times: Any, dt: Any, noise: Vector) -> Vector:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        return np.asarray(states - self.theta * states * step + self.sigma * np.sqrt(step) * noise)

    def _score_batch(self, states: Vector, times: Any) -> Vector:
        # w . x summed coordinate by coordinate: the same rounding for any batch size
        # (a matrix product's summation order depends on the batch size)
        projection = states[:, 0] * self.unit[0]
        for i in range(1, self.dim):
            projection = projection + states[:, i] * self.unit[i]
        return np.asarray(projection / self.barrier)

    def _make_noise(self, rng: np.random.Generator) -> Vector:
        return rng.standard_normal(self.dim)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> Vector:
        return rng.standard_normal((steps, self.dim))

    @classmethod
    def known_answer(cls, params: Mapping[str, Any], trajectory: TrajectorySettings) -> KnownAnswer:
        """The 1-D problem of the projection on w, solved by the reference solver."""
        model = cls(params)
        y0 = float(model.unit @ model.x)
        level = trajectory.target_score * model.barrier
        theta, sigma = model.theta, model.sigma

        def drift(y: Vector) -> Vector:
            return -theta * y

        return KnownAnswer(
            probability=euler_chain_probability(
                drift,
                sigma,
                x0=y0,
                barrier=level,
                end_time=trajectory.end_time,
                dt=trajectory.step_size,
            ),
            source="Euler chain of the projection, exact (pytams.models.reference)",
            continuous=continuous_probability(
                drift, sigma, x0=y0, barrier=level, end_time=trajectory.end_time
            ),
        )


def _unit(params: Mapping[str, Any], dim: int) -> Vector:
    w = vector(params, "direction", [1.0] * dim, dim, model=_NAME)
    norm = float(np.linalg.norm(w))
    if norm == 0.0:
        msg = "[model] direction must not be the zero vector; e.g. direction = [1.0, 0.0]"
        raise ConfigError(msg)
    return w / norm
