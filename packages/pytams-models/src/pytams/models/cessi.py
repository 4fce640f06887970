"""Noise-induced collapse of the Atlantic overturning in Cessi's (1994) box model.

Cessi, P. (1994), "A simple box model of stochastically forced thermohaline flow",
J. Phys. Oceanogr. 24, 1911-1920. Two boxes exchange heat and salt through an overturning
flow that grows with the density difference; the temperature difference relaxes fast, and
the salinity difference y (non-dimensional) obeys::

    dy = [F - y (1 + mu^2 (1 - y)^2)] dt + sigma dW = -V'(y) dt + sigma dW,
    V(y) = -F y + y^2 / 2 + mu^2 (y^2 / 2 - 2 y^3 / 3 + y^4 / 4),

with F the mean freshwater forcing and sigma the amplitude of its white-noise part. For
mu^2 = 6.2 and F = 1.1 (inside the bistable range 0.956 < F < 1.296 of mu^2 = 6.2) there are
two stable states: y_on = 0.2402 (small salinity difference: the thermally driven, strong
overturning) and y_off = 1.0687 (salinity-driven: the collapsed, weak overturning), separated
by the unstable state y_s = 0.6911 (barrier Delta V = 0.0571). The run starts in the "on"
state and asks for the probability of collapse, reaching y_off, before time T.

Score ``(y - y_on) / (y_off - y_on)``: with ``target_score = 1`` a trajectory converges on
reaching the collapsed state.

``[model]`` parameters: ``F`` (1.1), ``mu2`` (mu^2, 6.2), ``sigma`` (0.12), ``y0`` (y_on).

Known answer: Cessi characterised the transitions by mean residence times from the
Kramers formula, tau = 2 pi / sqrt(V''(y_on) abs(V''(y_s))) exp(2 Delta V / sigma^2); that is a
small-noise approximation, not an exact transition probability, and we could not reproduce a
published probability value to compare with honestly. The model is 1-D, so the exact
probability of its Euler chain comes from `pytams.models.reference` (checked against brute
force in the tests); `kramers_probability` gives 1 - exp(-T / tau) for context only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytams.core import ForwardModel
from pytams.core.config import TrajectorySettings
from pytams.core.errors import ConfigError
from pytams.models._known import KnownAnswer, number
from pytams.models.reference import continuous_probability, euler_chain_probability

_NAME = "CessiBox"


def equilibria(forcing: float, mu2: float) -> tuple[float, float, float]:
    """The three equilibria (y_on, y_s, y_off) of the deterministic model.

    Raises:
        ConfigError: When F is outside the bistable range of mu^2.
    """
    roots = np.roots([mu2, -2.0 * mu2, mu2 + 1.0, -forcing])
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    if real.size != 3:
        msg = (
            f"[model] F = {forcing}, mu2 = {mu2}: the model is not bistable (one "
            "equilibrium); e.g. F = 1.1 with mu2 = 6.2"
        )
        raise ConfigError(msg)
    return float(real[0]), float(real[1]), float(real[2])


class CessiBox(ForwardModel[float, float]):
    """Cessi's reduced box model for the salinity difference y; state and noise are floats."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.forcing = number(params, "F", 1.1, model=_NAME)
        self.mu2 = number(params, "mu2", 6.2, positive=True, model=_NAME)
        self.sigma = number(params, "sigma", 0.12, positive=True, model=_NAME)
        self.on, self.saddle, self.off = equilibria(self.forcing, self.mu2)
        self.y = number(params, "y0", self.on, model=_NAME)

    def drift(self, y: Any) -> Any:
        """-V'(y) = F - y (1 + mu^2 (1 - y)^2)."""
        return self.forcing - y * (1.0 + self.mu2 * (1.0 - y) ** 2)

    def _advance(self, dt: float, noise: float) -> float:
        self.y = self.y + self.drift(self.y) * dt + self.sigma * math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> float:
        return self.y

    def _set_state(self, state: float) -> None:
        self.y = float(state)

    def _score(self) -> float:
        return (self.y - self.on) / (self.off - self.on)

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())

    def kramers_probability(self, end_time: float) -> float:
        """1 - exp(-T / tau) with Kramers' mean residence time tau (small-noise estimate)."""

        def curvature(y: float) -> float:
            return 1.0 + self.mu2 * (1.0 - y) ** 2 - 2.0 * self.mu2 * y * (1.0 - y)

        def potential(y: float) -> float:
            return (
                -self.forcing * y
                + y**2 / 2.0
                + self.mu2 * (y**2 / 2.0 - 2.0 * y**3 / 3.0 + y**4 / 4.0)
            )

        barrier = potential(self.saddle) - potential(self.on)
        tau = (
            2.0
            * math.pi
            / math.sqrt(curvature(self.on) * abs(curvature(self.saddle)))
            * math.exp(2.0 * barrier / self.sigma**2)
        )
        return -math.expm1(-end_time / tau)

    @classmethod
    def known_answer(cls, params: Mapping[str, Any], trajectory: TrajectorySettings) -> KnownAnswer:
        """The Euler chain's exact probability (reference solver); Kramers in the source."""
        model = cls(params)
        level = model.on + trajectory.target_score * (model.off - model.on)
        lower = model.on - 1.0
        drift: Any = model.drift
        common: dict[str, Any] = {
            "x0": model.y,
            "barrier": level,
            "end_time": trajectory.end_time,
            "lower": lower,
        }
        kramers = model.kramers_probability(trajectory.end_time)
        return KnownAnswer(
            probability=euler_chain_probability(
                drift, model.sigma, dt=trajectory.step_size, **common
            ),
            source=(
                "Euler chain, exact (pytams.models.reference); Kramers' small-noise "
                f"estimate after Cessi (1994): {kramers:.4g}"
            ),
            continuous=continuous_probability(drift, model.sigma, **common),
        )
