"""Statistical correctness against exact values (slow: CI runs them).

Brownian motion stepped by Euler (the model of examples/brownian): TAMS must reproduce the
exact probability of the discrete-time chain, `p_euler` of tests/data/brownian.csv. Every test
runs twice: through the scalar path (k = 1) and through the batched path (k = 10).

The means use the model's time-aware score (level sets of the committor): with the static score
x / b the estimator is unbiased too, but so heavy-tailed at p = 4e-7 (many runs end in
extinction, p_hat = 0) that 60 runs cannot resolve its mean (measured: z = -3.7 over 60 runs,
-2.7 over 200). The single-run interval's coverage is measured with the static score, the
harder case for an error bar.
"""

from __future__ import annotations

import csv
import math
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, TAMSResult
from tests.core.models import REFERENCE, BatchedBrownian, BrownianMotion

PATHS: dict[str, tuple[type[Any], int]] = {
    "scalar": (BrownianMotion, 1),
    "batched": (BatchedBrownian, 10),
}


def reference(mu: float, barrier: float) -> dict[str, float]:
    with REFERENCE.open() as handle:
        for row in csv.DictReader(handle):
            if float(row["mu"]) == mu and float(row["barrier"]) == barrier:
                return {k: float(v) for k, v in row.items()}
    raise KeyError((mu, barrier))


def estimates(
    path: str, mu: float, barrier: float, runs: int, first_seed: int, *, time_aware: bool
) -> list[TAMSResult]:
    model, k = PATHS[path]
    results = []
    for seed in range(first_seed, first_seed + runs):
        config = {
            "tams": {"ntrajectories": 100, "seed": seed, "kills_per_iteration": k},
            "trajectory": {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0},
            "model": {
                "mu": mu,
                "sigma": 1.0,
                "x0": 0.0,
                "barrier": barrier,
                "time_aware": time_aware,
                "horizon": 1.0,
            },
        }
        results.append(TAMS(model, config).run())
    return results


@pytest.mark.slow
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(
    ("mu", "barrier"),
    [(0.0, 3.0), (0.0, 4.0), (0.0, 5.0), (-1.0, 3.0)],  # p near 2e-3, 5e-5, 4e-7; and a drift
)
def test_mean_of_independent_runs_matches_the_euler_chain(
    path: str, mu: float, barrier: float
) -> None:
    exact = reference(mu, barrier)["p_euler"]
    runs = 60
    results = estimates(path, mu, barrier, runs, 10_000, time_aware=True)
    values = np.array([r.probability for r in results])
    mean, std_error = values.mean(), values.std(ddof=1) / math.sqrt(runs)
    z = (mean - exact) / std_error
    print(
        f"{path}: mu {mu} barrier {barrier}: mean {mean:.4e} exact {exact:.4e} "
        f"se {std_error:.2e} z {z:+.2f}"
    )
    assert abs(z) < 3.0
    # the continuous process differs by more than the error bar: the test can tell them apart
    continuous = reference(mu, barrier)["p_continuous"]
    assert abs(continuous - exact) > 3.0 * std_error


@pytest.mark.slow
@pytest.mark.parametrize("path", list(PATHS))
def test_single_run_interval_coverage(path: str) -> None:
    """The documented single-run 95% interval covers p_euler in at least 85% of 200 runs."""
    exact = reference(0.0, 3.0)["p_euler"]
    results = estimates(path, 0.0, 3.0, 200, 20_000, time_aware=False)
    covered = sum(r.ci_low <= exact <= r.ci_high for r in results) / len(results)
    mean_relative_error = float(np.mean([r.std_error / r.probability for r in results]))
    spread = float(np.std([r.probability for r in results], ddof=1)) / exact
    print(
        f"{path}: coverage {covered:.3f} over {len(results)} runs; mean reported relative "
        f"error {mean_relative_error:.3f}, observed relative spread {spread:.3f}"
    )
    assert covered >= 0.85
