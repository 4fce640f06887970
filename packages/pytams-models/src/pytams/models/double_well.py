"""The double well in 1, 2 and 3 dimensions: noise-induced transition from -1 to +1.

Potential and equation (overdamped Langevin, Euler-Maruyama, xi standard normal)::

    V(x, y, z) = x^4 / 4 - x^2 / 2 + kappa (y^2 + z^2) / 2,
    dX = -grad V(X) dt + sqrt(2 eps) dW.

V has minima at x = -1 and x = +1 separated by a barrier of height 1/4 at x = 0; the
transverse coordinates (2-D: y; 3-D: y, z) relax to 0 at rate kappa. The run starts at the
left minimum and asks for the probability of reaching the right one (x >= 1) before T.

Score ``(x - x0) / (barrier - x0)`` (x0 the start's first coordinate, barrier 1 by default):
with ``target_score = 1`` a trajectory converges when x reaches the barrier.

``[model]`` parameters: ``eps`` (0.05), ``kappa`` (1), ``x0`` (the left minimum), ``barrier`` (1).

Known answer: the x coordinate is decoupled from the others, so in every dimension the
probability is that of the 1-D chain ``x_{n+1} = x_n + (x_n - x_n^3) dt + sqrt(2 eps dt) xi``,
exact by `pytams.models.reference`. For eps = 0.05, T = 10, dt = 0.01 it is 7.325e-3
(7.427e-3 for the continuous process); Kramers' rate sqrt(2) / (2 pi) exp(-1 / (4 eps)) is
the small-noise approximation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from pytams.core.batch import BatchedModel
from pytams.core.config import TrajectorySettings
from pytams.core.errors import ConfigError
from pytams.models._known import KnownAnswer, number, vector
from pytams.models.reference import continuous_probability, euler_chain_probability

Vector = NDArray[np.float64]


def drift_1d(x: Vector) -> Vector:
    """-V'(x) = x - x^3 for the 1-D double well."""
    return x - x**3


class DoubleWell(BatchedModel):
    """The double well in ``dim`` dimensions (the subclasses fix dim = 1, 2, 3).

    A batched model: the engine advances whole ensembles in one call (same results).
    """

    dim: ClassVar[int] = 1

    def _setup(self, params: dict[str, Any]) -> None:
        name = type(self).__name__
        self.eps = number(params, "eps", 0.05, positive=True, model=name)
        self.kappa = number(params, "kappa", 1.0, positive=True, model=name)
        self.x = vector(params, "x0", [-1.0] + [0.0] * (self.dim - 1), self.dim, model=name)
        self.start = float(self.x[0])
        self.barrier = number(params, "barrier", 1.0, model=name)
        if self.barrier <= self.start:
            msg = (
                f"[model] barrier = {self.barrier} must be above the start's x = "
                f"{self.start}; e.g. x0 = {[-1.0] + [0.0] * (self.dim - 1)}, barrier = 1.0"
            )
            raise ConfigError(msg)
        self.noise_scale = math.sqrt(2.0 * self.eps)

    def _advance_batch(self, states: Vector, times: Any, dt: Any, noise: Vector) -> Vector:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        force = np.empty_like(states)
        force[:, 0] = states[:, 0] - states[:, 0] ** 3
        force[:, 1:] = -self.kappa * states[:, 1:]
        return np.asarray(states + force * step + self.noise_scale * np.sqrt(step) * noise)

    def _score_batch(self, states: Vector, times: Any) -> Vector:
        return np.asarray((states[:, 0] - self.start) / (self.barrier - self.start))

    def _make_noise(self, rng: np.random.Generator) -> Vector:
        return rng.standard_normal(self.dim)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> Vector:
        return rng.standard_normal((steps, self.dim))

    @classmethod
    def known_answer(cls, params: Mapping[str, Any], trajectory: TrajectorySettings) -> KnownAnswer:
        """The 1-D chain of the x coordinate, by the reference solver."""
        model = cls(params)
        level = model.start + trajectory.target_score * (model.barrier - model.start)
        lower = min(-2.5, model.start - 1.0)
        common: dict[str, Any] = {
            "x0": model.start,
            "barrier": level,
            "end_time": trajectory.end_time,
            "lower": lower,
        }
        return KnownAnswer(
            probability=euler_chain_probability(
                drift_1d, model.noise_scale, dt=trajectory.step_size, **common
            ),
            source="Euler chain of x, exact (pytams.models.reference)",
            continuous=continuous_probability(drift_1d, model.noise_scale, **common),
        )


class DoubleWell1D(DoubleWell):
    """The 1-D double well; state and noise are arrays of one number."""

    dim = 1


class DoubleWell2D(DoubleWell):
    """The 2-D double well (x, y)."""

    dim = 2


class DoubleWell3D(DoubleWell):
    """The 3-D double well (x, y, z)."""

    dim = 3
