"""Acceptance of issue 7: curves, the ams variant and Monte Carlo against exact answers.

Every exact value is the Euler chain's (what the samplers estimate without bias), computed
independently of pytams-core by transition-matrix solvers (tests/samplers/reference.py).
Seeds are fixed; tolerances are multiples of the standard errors the runs report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS
from tests.samplers.reference import (
    continuous_committor,
    euler_committor,
    exceedance,
)

OU = "pytams.models:OrnsteinUhlenbeck"
DOUBLE_WELL = "pytams.models:DoubleWell1D"


def ou_config(
    n: int, barrier: float, end_time: float, dt: float, seed: int, **tams: Any
) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "seed": seed, **tams},
        "trajectory": {"end_time": end_time, "step_size": dt, "target_score": 1.0},
        "model": {"class": OU, "dim": 1, "theta": 1.0, "sigma": 1.0, "barrier": barrier},
    }


def check_curve(result: Any, score_levels: np.ndarray, exact: np.ndarray) -> None:
    levels, probability, std_error = result.exceedance_curve(score_levels)
    z = (probability - exact) / std_error
    for a, p, se, e, zi in zip(levels, probability, std_error, exact, z, strict=True):
        print(f"level {a:.4f}: p_hat {p:.4e} +- {se:.2e}, exact {e:.4e}, z {zi:+.2f}")
    assert math.log10(exact[0] / exact[-1]) >= 3.0, "the levels must span three decades"
    assert np.all(np.abs(z) < 3.0)


@pytest.mark.slow
def test_ou_exceedance_curve_from_one_run() -> None:
    """OU, T = 2, dt = 0.01: five levels from p = 0.38 to p = 1.6e-5 (4.4 decades)."""
    barrier = 3.3
    states = np.array([1.0, 2.0, 2.5, 3.0, 3.3])
    exact = exceedance(lambda y: -y, 1.0, x0=0.0, levels=list(states), end_time=2.0, dt=0.01)
    result = TAMS(None, ou_config(100, barrier, 2.0, 0.01, seed=1)).run()
    check_curve(result, states / barrier, exact)
    assert result.exceedance_curve([1.0]).probability[0] == result.probability


@pytest.mark.slow
def test_double_well_exceedance_curve_from_one_run() -> None:
    """1-D double well, eps = 0.03, T = 10, dt = 0.01: p from 0.27 to 2.3e-4."""
    eps = 0.03
    states = np.array([-0.6, -0.4, -0.2, 0.0, 1.0])
    exact = exceedance(
        lambda x: x - x**3,
        math.sqrt(2 * eps),
        x0=-1.0,
        levels=list(states),
        end_time=10.0,
        dt=0.01,
        lower=-2.5,
    )
    config = {
        "tams": {"ntrajectories": 100, "seed": 1},
        "trajectory": {"end_time": 10.0, "step_size": 0.01, "target_score": 1.0},
        "model": {"class": DOUBLE_WELL, "eps": eps},
    }
    result = TAMS(None, config).run()
    check_curve(result, (states + 1.0) / 2.0, exact)


@pytest.mark.slow
def test_ams_reproduces_the_double_well_committor() -> None:
    """P(reach x = 1 before x = -1 from x0 = -0.9), eps = 0.05: the Euler chain's 1.41e-3.

    The ams variant: no horizon, a path ends at x <= -1 (score <= min_score) or x >= 1.
    """
    eps, x0, dt = 0.05, -0.9, 0.01
    exact = euler_committor(lambda x: x - x**3, math.sqrt(2 * eps), x0=x0, a=-1.0, b=1.0, dt=dt)
    config = {
        "tams": {"ntrajectories": 200, "seed": 1, "variant": "ams"},
        "trajectory": {
            "end_time": 1.0,  # ignored by ams
            "step_size": dt,
            "target_score": 1.0,
            "min_score": (-1.0 - x0) / (1.0 - x0),
        },
        "model": {"class": DOUBLE_WELL, "eps": eps, "x0": [x0]},
    }
    result = TAMS(None, config).run()
    z = (result.probability - exact) / result.std_error
    print(f"ams p_hat {result.probability:.4e} +- {result.std_error:.2e}, exact {exact:.4e}")
    assert abs(z) < 3.0
    history = result.history()
    assert max(t.end_time for t in history.final) > 1.0  # end_time is no horizon for ams
    for trajectory in history.final:
        assert trajectory.converged == (trajectory.scores[-1] >= 1.0)


@pytest.mark.slow
def test_euler_committor_tends_to_the_closed_form() -> None:
    """The independent reference: the chain's committor converges to the diffusion's."""
    eps, x0 = 0.05, -0.9

    def potential(y: float) -> float:
        return y**4 / 4 - y**2 / 2

    closed = continuous_committor(potential, eps, x0=x0, a=-1.0, b=1.0)
    errors = [
        abs(
            euler_committor(lambda x: x - x**3, math.sqrt(2 * eps), x0=x0, a=-1.0, b=1.0, dt=dt)
            - closed
        )
        / closed
        for dt in (0.01, 0.0025)
    ]
    print(f"closed form {closed:.5e}; relative time-step errors {errors}")
    assert errors[1] < 0.7 * errors[0]  # O(sqrt(dt)): about halved
    assert errors[1] < 0.1


@pytest.mark.slow
def test_monte_carlo_interval_covers_at_its_nominal_rate() -> None:
    """400 Monte Carlo runs of N = 100 (OU, p = 0.10): the Wilson 95% interval's coverage."""
    exact = exceedance(lambda y: -y, 1.0, x0=0.0, levels=[1.2], end_time=1.0, dt=0.05)[0]
    runs = 400
    config = ou_config(100, 1.2, 1.0, 0.05, seed=7, sampler="montecarlo", repeats=runs)
    result = TAMS(None, config).run()
    assert len(result.repeats) == runs
    covered = sum(r.ci_low <= exact <= r.ci_high for r in result.repeats) / runs
    band = 3.0 * math.sqrt(0.95 * 0.05 / runs)
    print(f"Wilson coverage {covered:.3f} over {runs} runs (exact p {exact:.4f})")
    assert abs(covered - 0.95) < band
    z = (result.probability - exact) / result.std_error
    assert abs(z) < 3.0


@pytest.mark.slow
def test_the_exceedance_error_bar_is_honest() -> None:
    """100 TAMS runs (OU, N = 50, T = 1): the curve's intervals at four levels.

    Unbiasedness at every level (mean of the runs within 3 empirical standard errors) and
    the coverage of p_hat(a) +/- 1.96 std_error(a) (the genealogy estimator).
    """
    barrier, runs = 2.5, 100
    states = np.array([0.8, 1.4, 2.0, 2.5])
    exact = exceedance(lambda y: -y, 1.0, x0=0.0, levels=list(states), end_time=1.0, dt=0.02)
    result = TAMS(None, ou_config(50, barrier, 1.0, 0.02, seed=100, repeats=runs)).run()
    curves = [r.exceedance_curve(states / barrier) for r in result.repeats]
    p = np.vstack([c.probability for c in curves])
    se = np.vstack([c.std_error for c in curves])
    covered = np.mean(np.abs(p - exact) <= 1.959963984540054 * se, axis=0)
    bounds = np.stack([c.interval() for c in curves])  # (runs, 2, levels): log-scale interval
    log_covered = np.mean((bounds[:, 0] <= exact) & (exact <= bounds[:, 1]), axis=0)
    mean, spread = p.mean(axis=0), p.std(axis=0, ddof=1)
    reported = np.sqrt(np.mean(se**2, axis=0))
    for i, level in enumerate(states):
        print(
            f"x >= {level}: exact {exact[i]:.3e} mean {mean[i]:.3e} observed sd {spread[i]:.2e} "
            f"reported se (rms) {reported[i]:.2e} coverage {covered[i]:.2f} "
            f"(log-scale interval {log_covered[i]:.2f})"
        )
    assert np.all(np.abs(mean - exact) < 3.0 * spread / math.sqrt(runs))
    assert np.all(covered >= 0.85)
    assert np.all(log_covered >= 0.85)
    assert np.all(reported < 3.0 * spread)  # not uselessly wide either
