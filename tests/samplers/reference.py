"""Exact answers for the sampler acceptance tests (1-D Euler chains, computed independently).

- `exceedance`: P(max_{n <= T/dt} X_n >= level) of the Euler chain, by the models package's
  transition-matrix solver, one level at a time.
- `euler_committor`: P(the Euler chain from x0 reaches [b, inf) before (-inf, a]) by a
  Nystrom discretisation of the one-step kernel on (a, b) and one linear solve.
- `continuous_committor`: the closed form of a 1-D diffusion dX = -V'(X) dt + sqrt(2 eps) dW,
  q(x) = int_a^x exp(V/eps) / int_a^b exp(V/eps) (the small-dt limit of the chain's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import integrate
from scipy.special import ndtr

from pytams.models.reference import euler_chain_probability

Array = NDArray[np.float64]


def exceedance(
    drift: Callable[[Array], Array],
    sigma: float,
    *,
    x0: float,
    levels: Sequence[float],
    end_time: float,
    dt: float,
    lower: float | None = None,
) -> Array:
    """P(max of the Euler chain >= level) for each level (state units)."""
    return np.array(
        [
            euler_chain_probability(
                drift, sigma, x0=x0, barrier=level, end_time=end_time, dt=dt, lower=lower
            )
            for level in levels
        ]
    )


def euler_committor(
    drift: Callable[[Array], Array],
    sigma: float,
    *,
    x0: float,
    a: float,
    b: float,
    dt: float,
    order: int = 8,
) -> float:
    """P(X_n >= b before X_n <= a) for X_{n+1} = X_n + drift(X_n) dt + sigma sqrt(dt) xi."""
    spread = sigma * math.sqrt(dt)
    count = max(1, math.ceil((b - a) / (spread / 4)))
    edges = np.linspace(a, b, count + 1)
    unit_nodes, unit_weights = np.polynomial.legendre.leggauss(order)
    centre, half = 0.5 * (edges[:-1] + edges[1:]), 0.5 * (edges[1:] - edges[:-1])
    nodes = (centre[:, None] + half[:, None] * unit_nodes[None, :]).ravel()
    weights = (half[:, None] * unit_weights[None, :]).ravel()

    def kernel(points: Array) -> tuple[Array, Array]:
        mean = points + drift(points) * dt
        z = (nodes[None, :] - mean[:, None]) / spread
        density = np.exp(-0.5 * z**2) / (spread * math.sqrt(2 * math.pi)) * weights
        return density, np.asarray(ndtr((mean - b) / spread), dtype=np.float64)

    matrix, jump = kernel(nodes)
    u = np.linalg.solve(np.eye(nodes.size) - matrix, jump)
    start, jump0 = kernel(np.array([x0]))
    return float(jump0[0] + (start @ u)[0])


def continuous_committor(
    potential: Callable[[float], float], eps: float, *, x0: float, a: float, b: float
) -> float:
    """q(x0) = int_a^x0 exp(V/eps) dy / int_a^b exp(V/eps) dy."""
    top = max(potential(y) for y in np.linspace(a, b, 2001)) / eps

    def f(y: float) -> float:
        return math.exp(potential(y) / eps - top)

    num = integrate.quad(f, a, x0, limit=200)[0]
    den = integrate.quad(f, a, b, limit=200, points=[0.0])[0]
    return float(num / den)
