"""TAMS reproduces each model's known answer: the mean of K independent runs lies within
3 standard errors (their empirical standard error) of the exact value, fixed seeds.

The exact values are those of the Euler chains (pytams.models.reference); for the triple
well, which has none, a vectorised brute-force Monte Carlo of the same chain.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, TAMSResult
from pytams.core.config import load_config
from pytams.models.compare import known_answer
from pytams.models.triple_well import gradient


def config(
    model: str,
    params: dict[str, Any],
    *,
    end_time: float,
    dt: float = 0.01,
    n: int = 32,
    repeats: int = 1,
    seed: int = 1,
) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "repeats": repeats, "seed": seed},
        "trajectory": {"end_time": end_time, "step_size": dt, "target_score": 1.0},
        "model": {"class": model, **params},
    }


def check(result: TAMSResult, exact: float, label: str, other: float = 0.0) -> float:
    """|mean - exact| < 3 standard errors (``other``: the exact value's own standard error)."""
    std_error = math.hypot(result.std_error, other)
    z = (result.probability - exact) / std_error
    print(
        f"{label}: TAMS mean {result.probability:.4e} +- {result.std_error:.1e} over "
        f"{len(result.repeats)} runs; exact {exact:.4e}; z {z:+.2f}"
    )
    assert abs(z) < 3.0
    return z


CASES = {
    # name: (model, params, end_time, repeats); p from 4e-4 to 7e-3 (Brownian: below)
    "ornstein-uhlenbeck-3d": (
        "pytams.models.ornstein_uhlenbeck:OrnsteinUhlenbeck",
        {"dim": 3, "barrier": 2.5},
        2.0,
        80,
    ),
    "double-well-1d": ("pytams.models.double_well:DoubleWell1D", {"eps": 0.05}, 10.0, 50),
    "double-well-2d": ("pytams.models.double_well:DoubleWell2D", {"eps": 0.04}, 10.0, 30),
    "double-well-3d": ("pytams.models.double_well:DoubleWell3D", {"eps": 0.05}, 10.0, 30),
    "cessi": ("pytams.models.cessi:CessiBox", {"sigma": 0.12}, 10.0, 60),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_tams_mean_matches_the_known_answer(case: str) -> None:
    model, params, end_time, repeats = CASES[case]
    cfg = load_config(config(model, params, end_time=end_time, repeats=repeats, seed=77))
    answer = known_answer(cfg)
    assert answer is not None
    result = TAMS(None, cfg).run()
    check(result, answer.probability, case)


@pytest.mark.slow
def test_brownian_drift_matches_the_shared_table() -> None:
    """The table value (tests/data/brownian.csv, from scripts/reference_tables.py: mu = -1,
    barrier 3: 6.9228e-5)."""
    cfg = config(
        "pytams.models.brownian:BrownianDrift",
        {"mu": -1.0, "barrier": 3.0},
        end_time=1.0,
        repeats=80,
        seed=5,
    )
    check(TAMS(None, cfg).run(), 6.922841436398e-05, "brownian table")


def brute_force_triple_well(
    beta: float, end_time: float, dt: float, paths: int, radius: float = 0.15
) -> tuple[float, float]:
    rng = np.random.default_rng(2026)
    scale = math.sqrt(2.0 / beta * dt)
    x, y = np.full(paths, -1.0), np.zeros(paths)
    hit = np.zeros(paths, dtype=bool)
    hits = 0
    steps = round(end_time / dt)
    for step in range(steps):
        gx, gy = gradient(x, y)
        x = x - gx * dt + scale * rng.standard_normal(x.size)
        y = y - gy * dt + scale * rng.standard_normal(y.size)
        hit |= (x - 1.0) ** 2 + y**2 <= radius**2
        if step % 50 == 49 or step == steps - 1:
            hits += int(hit.sum())
            x, y, hit = x[~hit], y[~hit], hit[~hit]
    p = hits / paths
    return p, math.sqrt(p * (1.0 - p) / paths)


@pytest.mark.slow
def test_triple_well_matches_brute_force() -> None:
    """No closed form: brute force of the same Euler chain (beta = 2, T = 2: p near 2e-2)."""
    exact, exact_se = brute_force_triple_well(2.0, 2.0, 0.005, 100_000)
    cfg = config(
        "pytams.models.triple_well:TripleWell",
        {"beta": 2.0},
        end_time=2.0,
        dt=0.005,
        repeats=40,
        seed=3,
    )
    check(TAMS(None, cfg).run(), exact, "triple well", other=exact_se)


def test_external_model_reproduces_the_python_model_bitwise(tmp_path: Path, stepper: Path) -> None:
    """The C stepper and BrownianDrift do the same arithmetic: identical TAMS runs."""
    common = {"barrier": 2.5, "mu": 0.5}
    python = config("pytams.models.brownian:BrownianDrift", common, end_time=0.3, n=10, seed=9)
    external = config(
        "pytams.models.external:ExternalModel",
        {**common, "executable": str(stepper), "state_dir": str(tmp_path)},
        end_time=0.3,
        n=10,
        seed=9,
    )
    a, b = TAMS(None, python).run(), TAMS(None, external).run()
    assert a.iterations > 3
    assert a.probability == b.probability
    assert a.levels == b.levels
    assert any(tmp_path.rglob("*.state"))
