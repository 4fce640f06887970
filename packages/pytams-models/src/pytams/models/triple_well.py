"""The 2-D triple-well potential with two reaction channels (bi-channel).

Potential of Metzner, Schuette and Vanden-Eijnden (J. Chem. Phys. 125, 084110, 2006), also
used by Park, Sener, Lu and Schulten (2003) and in many TAMS / AMS studies::

    V(x, y) = 3 exp(-x^2 - (y - 1/3)^2) - 3 exp(-x^2 - (y - 5/3)^2)
              - 5 exp(-(x - 1)^2 - y^2) - 5 exp(-(x + 1)^2 - y^2)
              + x^4 / 5 + (y - 1/3)^4 / 5,
    dX = -grad V(X) dt + sqrt(2 / beta) dW.

Two deep minima near A = (-1, 0) and B = (1, 0) and a shallow one near (0, 1.5): paths from A
to B go either straight over the saddle near (0, -0.3) or around through the shallow well;
which channel dominates depends on beta (the lower channel at low temperature, large beta).

Score: ``1 - (|X - B| - r) / (|A - B| - r)``, 0 at A, 1 on the circle of radius r around B;
with ``target_score = 1`` a trajectory converges when it enters the disc of radius r around B.

``[model]`` parameters: ``beta`` (6.67), ``x0`` ([-1, 0]), ``target`` ([1, 0]), ``radius``
(r = 0.15).

Known answer: none in closed form; the test suite compares TAMS with brute-force Monte Carlo
of the same Euler chain at a moderate probability.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytams.core import ForwardModel
from pytams.core.errors import ConfigError
from pytams.models._known import number, vector

Vector = NDArray[np.float64]
_NAME = "TripleWell"


def gradient(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[Any, Any]:
    """Grad V at the points (x, y) (arrays of any shape, or floats)."""
    e1 = 3.0 * np.exp(-(x**2) - (y - 1.0 / 3.0) ** 2)
    e2 = -3.0 * np.exp(-(x**2) - (y - 5.0 / 3.0) ** 2)
    e3 = -5.0 * np.exp(-((x - 1.0) ** 2) - y**2)
    e4 = -5.0 * np.exp(-((x + 1.0) ** 2) - y**2)
    gx = -2.0 * x * (e1 + e2) - 2.0 * (x - 1.0) * e3 - 2.0 * (x + 1.0) * e4 + 0.8 * x**3
    gy = (
        -2.0 * (y - 1.0 / 3.0) * e1
        - 2.0 * (y - 5.0 / 3.0) * e2
        - 2.0 * y * (e3 + e4)
        + 0.8 * (y - 1.0 / 3.0) ** 3
    )
    return gx, gy


def potential(x: NDArray[np.float64], y: NDArray[np.float64]) -> Any:
    """V at the points (x, y)."""
    return (
        3.0 * np.exp(-(x**2) - (y - 1.0 / 3.0) ** 2)
        - 3.0 * np.exp(-(x**2) - (y - 5.0 / 3.0) ** 2)
        - 5.0 * np.exp(-((x - 1.0) ** 2) - y**2)
        - 5.0 * np.exp(-((x + 1.0) ** 2) - y**2)
        + 0.2 * x**4
        + 0.2 * (y - 1.0 / 3.0) ** 4
    )


class TripleWell(ForwardModel[Vector, Vector]):
    """Overdamped Langevin dynamics in the triple-well potential; state and noise are 2-vectors."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.beta = number(params, "beta", 6.67, positive=True, model=_NAME)
        self.x = vector(params, "x0", [-1.0, 0.0], 2, model=_NAME)
        self.target = vector(params, "target", [1.0, 0.0], 2, model=_NAME)
        self.radius = number(params, "radius", 0.15, positive=True, model=_NAME)
        self.span = float(np.linalg.norm(self.target - self.x)) - self.radius
        if self.span <= 0.0:
            msg = (
                "[model] x0 is within radius of the target: start farther away or "
                "shrink radius, e.g. x0 = [-1.0, 0.0], target = [1.0, 0.0], radius = 0.15"
            )
            raise ConfigError(msg)
        self.noise_scale = math.sqrt(2.0 / self.beta)

    def _advance(self, dt: float, noise: Vector) -> float:
        gx, gy = gradient(self.x[0], self.x[1])
        self.x = self.x - np.array([gx, gy]) * dt + self.noise_scale * math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> Vector:
        return self.x

    def _set_state(self, state: Vector) -> None:
        self.x = np.array(state, dtype=np.float64)

    def _score(self) -> float:
        distance = float(np.linalg.norm(self.x - self.target))
        return 1.0 - (distance - self.radius) / self.span

    def _make_noise(self, rng: np.random.Generator) -> Vector:
        return rng.standard_normal(2)
