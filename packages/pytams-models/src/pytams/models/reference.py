"""Exact transition probabilities of 1-D models, to validate TAMS on your own 1-D problems.

The model is the SDE ``dX = b(X) dt + sigma(X) dW`` from ``X(0) = x0``, and the event is
"X reaches the barrier B > x0 before time T". Two answers are computed:

- `euler_chain_probability`: the probability for the discrete-time chain that an
  Euler-Maruyama integrator with step dt produces,
  ``X_{n+1} = X_n + b(X_n) dt + sigma(X_n) sqrt(dt) xi_n``, monitored at n = 0, 1, ..., T/dt.
  This is what TAMS over a model stepped by Euler reproduces (its estimator is unbiased for
  the chain, not for the continuous process). It is computed by transition-matrix
  iteration: with ``u_n(x)`` the probability of reaching B within n steps from x,
  ``u_0 = 1[x >= B]`` and::

      u_{n+1}(x) = P(X_1 >= B | x) + integral_{y < B} u_n(y) k(x, y) dy  (x < B),

  where ``k(x, .)`` is the Gaussian density of one step. The integral over [L, B] (L: a
  lower cut-off far below x0) is a Gauss-Legendre quadrature on panels of half a step's
  standard deviation (a Nystrom method: ``u_n`` is smooth below B, so the error falls
  spectrally; it is below 1e-9 relative with the defaults).
- `continuous_probability`: the probability for the continuous process, from the backward
  Kolmogorov equation ``u_tau = b u_x + (sigma^2 / 2) u_xx`` on (L, B) with ``u(tau, B) = 1``,
  ``u(tau, L) = 0``, ``u(0, x) = 0``: second-order finite differences, Crank-Nicolson in
  time after four implicit half steps (Rannacher start), Richardson-extrapolated in (h, dt).

`brownian_probability` is the closed form for Brownian motion with drift (reflection
principle), against which both solvers are tested.

For an event "X falls below a barrier B < x0", solve the mirrored problem: x -> -x, drift
b(x) -> -b(-x), barrier -B.

Example:
    >>> from pytams.models.reference import brownian_probability, euler_chain_probability
    >>> p = euler_chain_probability(0.0, 1.0, x0=0.0, barrier=3.0, end_time=1.0, dt=0.01)
    >>> round(p, 7)  # Brownian motion seen every dt = 0.01
    0.0022556
    >>> exact = brownian_probability(0.0, 1.0, x0=0.0, barrier=3.0, end_time=1.0)
    >>> round(exact, 7)  # seen continuously: it crosses more often
    0.0026998
    >>> ou = euler_chain_probability(  # Ornstein-Uhlenbeck: a drift b(x) = -x
    ...     lambda x: -x, 1.0, x0=0.0, barrier=2.0, end_time=1.0, dt=0.01
    ... )
    >>> round(ou, 7)
    0.0047934
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

# scipy is imported inside the functions that use it: the models import this module for
# their known answers, and a run (or ``pytams --help``) must not pay scipy's import.

Array = NDArray[np.float64]
Coefficient = float | Callable[[Array], Array]

__all__ = [
    "brownian_probability",
    "continuous_probability",
    "euler_chain_probability",
]


def brownian_probability(
    mu: float, sigma: float, x0: float, barrier: float, end_time: float
) -> float:
    """P(max_{t <= T} X_t >= B) for ``dX = mu dt + sigma dW``, ``X(0) = x0`` (closed form).

    Args:
        mu: Drift.
        sigma: Diffusion coefficient (> 0).
        x0: Start (below the barrier).
        barrier: The level B.
        end_time: The horizon T.
    """
    a = barrier - x0
    if a <= 0.0:
        return 1.0
    s = sigma * math.sqrt(end_time)
    first = 0.5 * math.erfc((a - mu * end_time) / (s * math.sqrt(2.0)))
    second = (
        math.exp(2.0 * mu * a / sigma**2)
        * 0.5
        * math.erfc((a + mu * end_time) / (s * math.sqrt(2.0)))
    )
    return first + second


def _evaluate(coefficient: Coefficient, x: Array) -> Array:
    if callable(coefficient):
        return np.broadcast_to(np.asarray(coefficient(x), dtype=np.float64), x.shape)
    return np.full_like(x, float(coefficient))


def _check(x0: float, barrier: float, lower: float, end_time: float) -> None:
    if not lower < x0:
        msg = f"lower = {lower} must be below x0 = {x0}; pass a smaller lower cut-off"
        raise ValueError(msg)
    if end_time <= 0.0:
        msg = f"end_time = {end_time} must be > 0"
        raise ValueError(msg)
    del barrier


def _default_lower(x0: float, barrier: float, sigma: Coefficient, end_time: float) -> float:
    scale = float(np.max(_evaluate(sigma, np.array([x0, barrier]))))
    return x0 - 10.0 * scale * math.sqrt(end_time) - 0.5 * (barrier - x0)


def _interpolate(grid: Array, values: Array, x0: float) -> float:
    """Value at x0 of the grid function (cubic: O(h^4), below the solvers' own error)."""
    from scipy.interpolate import CubicSpline

    return float(CubicSpline(grid, values)(x0))


def euler_chain_probability(
    drift: Coefficient,
    sigma: Coefficient,
    *,
    x0: float,
    barrier: float,
    end_time: float,
    dt: float,
    lower: float | None = None,
    panel: float | None = None,
    order: int = 8,
) -> float:
    """The exact probability that the Euler chain reaches ``barrier`` within T/dt steps.

    Args:
        drift: b(x): a number or a vectorised function of a numpy array.
        sigma: sigma(x) (> 0): a number or a vectorised function.
        x0: Start, below the barrier (a start at or above it gives 1).
        barrier: B; the chain has arrived when X_n >= B (n = 0, ..., T/dt).
        end_time: T; the chain makes round(T / dt) steps.
        dt: The Euler step.
        lower: Lower cut-off L of the grid (probability mass below it is dropped); default
            x0 - 10 sigma sqrt(T) - (B - x0) / 2.
        panel: Width of the quadrature panels; default half the smallest standard deviation
            of one step, sigma sqrt(dt) / 2.
        order: Gauss-Legendre nodes per panel.

    Returns:
        The probability (numerical error typically below 1e-9 relative).
    """
    if x0 >= barrier:
        return 1.0
    low = _default_lower(x0, barrier, sigma, end_time) if lower is None else float(lower)
    _check(x0, barrier, low, end_time)
    steps = round(end_time / dt)
    spread = float(np.min(_evaluate(sigma, np.linspace(low, barrier, 256)))) * math.sqrt(dt)
    if spread <= 0.0:
        msg = "sigma must be > 0 on the whole interval [lower, barrier]"
        raise ValueError(msg)
    width = spread / 2.0 if panel is None else float(panel)
    count = max(1, math.ceil((barrier - low) / width))
    edges = np.linspace(low, barrier, count + 1)
    unit_nodes, unit_weights = np.polynomial.legendre.leggauss(order)
    centre = 0.5 * (edges[:-1] + edges[1:])
    half = 0.5 * (edges[1:] - edges[:-1])
    nodes = (centre[:, None] + half[:, None] * unit_nodes[None, :]).ravel()
    weights = (half[:, None] * unit_weights[None, :]).ravel()
    matrix, jump = _transition(drift, sigma, dt, barrier, nodes, nodes, weights)
    start, jump0 = _transition(drift, sigma, dt, barrier, np.array([x0]), nodes, weights)
    # u_n at the nodes: probability of reaching B within n steps
    u = np.zeros(nodes.size)
    for _ in range(steps - 1):
        u = jump + matrix @ u
    return float(jump0[0] + (start @ u)[0]) if steps > 0 else 0.0


def _transition(
    drift: Coefficient,
    sigma: Coefficient,
    dt: float,
    barrier: float,
    points: Array,
    nodes: Array,
    weights: Array,
) -> tuple[Any, Array]:
    """The one-step kernel from ``points`` to the quadrature nodes (sparse) and P(jump >= B)."""
    from scipy import sparse
    from scipy.special import ndtr

    mean = points + _evaluate(drift, points) * dt
    scale = _evaluate(sigma, points) * math.sqrt(dt)
    jump = np.asarray(ndtr((mean - barrier) / scale), dtype=np.float64)
    blocks = []
    chunk = max(1, 4_000_000 // nodes.size)
    for first in range(0, points.size, chunk):
        m = mean[first : first + chunk, None]
        s = scale[first : first + chunk, None]
        z = (nodes[None, :] - m) / s
        dense = np.where(
            np.abs(z) < 12.0, np.exp(-0.5 * z**2) / (s * math.sqrt(2.0 * math.pi)) * weights, 0.0
        )
        blocks.append(sparse.csr_matrix(dense))
    return sparse.vstack(blocks, format="csr"), jump


def continuous_probability(
    drift: Coefficient,
    sigma: Coefficient,
    *,
    x0: float,
    barrier: float,
    end_time: float,
    lower: float | None = None,
    cells: int | None = None,
    time_steps: int | None = None,
    extrapolate: bool = True,
) -> float:
    """The probability that the continuous process reaches ``barrier`` before ``end_time``.

    Args:
        drift: b(x): a number or a vectorised function of a numpy array.
        sigma: sigma(x) (> 0): a number or a vectorised function.
        x0: Start, below the barrier.
        barrier: B.
        end_time: T.
        lower: Lower cut-off L (absorbing, u = 0); default x0 - 10 sigma sqrt(T) - (B - x0) / 2.
        cells: Grid cells on [L, B] (default 4000).
        time_steps: Crank-Nicolson steps (default 2000).
        extrapolate: Richardson-extrapolate from (cells, time_steps) and twice both.

    Returns:
        The probability (numerical error typically below 1e-6 relative with the defaults).
    """
    if x0 >= barrier:
        return 1.0
    low = _default_lower(x0, barrier, sigma, end_time) if lower is None else float(lower)
    _check(x0, barrier, low, end_time)
    cells = 4000 if cells is None else cells
    time_steps = 2000 if time_steps is None else time_steps
    coarse = _kolmogorov(drift, sigma, x0, barrier, low, end_time, cells, time_steps)
    if not extrapolate:
        return coarse
    fine = _kolmogorov(drift, sigma, x0, barrier, low, end_time, 2 * cells, 2 * time_steps)
    return (4.0 * fine - coarse) / 3.0


def _kolmogorov(
    drift: Coefficient,
    sigma: Coefficient,
    x0: float,
    barrier: float,
    lower: float,
    end_time: float,
    cells: int,
    time_steps: int,
) -> float:
    from scipy.linalg import solve_banded

    grid = np.linspace(lower, barrier, cells + 1)
    h = grid[1] - grid[0]
    inner = grid[1:-1]
    b = _evaluate(drift, inner)
    a = 0.5 * _evaluate(sigma, inner) ** 2
    # L u = sub * u_{i-1} + diag * u_i + sup * u_{i+1}
    sub = a / h**2 - b / (2.0 * h)
    diag = -2.0 * a / h**2
    sup = a / h**2 + b / (2.0 * h)
    u = np.zeros(cells - 1)

    def step(u: Array, tau: float, theta: float) -> Array:
        # (I - theta tau L) u_new = (I + (1 - theta) tau L) u, with u = 1 at the barrier
        explicit = u + (1.0 - theta) * tau * _apply(sub, diag, sup, u, 1.0)
        explicit[-1] += theta * tau * sup[-1] * 1.0
        banded = np.zeros((3, cells - 1))
        banded[0, 1:] = -theta * tau * sup[:-1]
        banded[1, :] = 1.0 - theta * tau * diag
        banded[2, :-1] = -theta * tau * sub[1:]
        return np.asarray(solve_banded((1, 1), banded, explicit), dtype=np.float64)

    dtau = end_time / time_steps
    for _ in range(4):  # Rannacher start: implicit half steps damp the corner singularity
        u = step(u, dtau / 2.0, 1.0)
    banded = np.zeros((3, cells - 1))
    banded[0, 1:] = -0.5 * dtau * sup[:-1]
    banded[1, :] = 1.0 - 0.5 * dtau * diag
    banded[2, :-1] = -0.5 * dtau * sub[1:]
    for _ in range(time_steps - 2):
        explicit = u + 0.5 * dtau * _apply(sub, diag, sup, u, 1.0)
        explicit[-1] += 0.5 * dtau * sup[-1]
        u = np.asarray(solve_banded((1, 1), banded, explicit), dtype=np.float64)
    full = np.concatenate([[0.0], u, [1.0]])
    return _interpolate(grid, full, x0)


def _apply(sub: Array, diag: Array, sup: Array, u: Array, top: float) -> Array:
    """L u on the inner nodes, with u = 0 below and u = ``top`` at the barrier."""
    out = diag * u
    out[1:] += sub[1:] * u[:-1]
    out[:-1] += sup[:-1] * u[1:]
    out[-1] += sup[-1] * top
    return out
