"""The cases of the pooled statistical tests, their exact answers, and many runs of each.

Every exact value is the Euler chain's probability (what TAMS estimates without bias), from
the transition-matrix solvers: `pytams.models.reference.euler_chain_probability` (fixed
horizon, with an absorbing lower level for the hybrid variant) and the committor solver of
tests/samplers/reference.py (the ams variant, no horizon).

Runs are independent (seed = first seed + i) and spread over processes; a run returns its
estimate, its single-run interval and, for a case with curve levels, its exceedance curve
there. A run may replace the case's score by another ``[trajectory] score`` value (a learned
score: ``score="learned:PATH"``; it travels with each task, so the workers see it).
``python -m tests.statistics.cases CASE --runs R [--score learned:PATH]`` prints the pooled
figures of a case (used to choose each test's number of runs from a pilot's measured spread).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from pytams.core import TAMS
from pytams.models.brownian import BrownianDrift
from pytams.models.reference import euler_chain_probability
from tests.core.models import BatchedBrownian, BrownianMotion, OrnsteinUhlenbeck
from tests.samplers.reference import euler_committor

JOBS = 2
"""Processes per pooled measurement (the CI machine has two cores)."""


def _brownian(barrier: float, dt: float) -> Callable[[float], float]:
    def exact(level: float) -> float:
        return euler_chain_probability(
            0.0, 1.0, x0=0.0, barrier=level * barrier, end_time=1.0, dt=dt
        )

    return exact


def _ou_hybrid(
    barrier: float, lower: float, end_time: float, dt: float
) -> Callable[[float], float]:
    def exact(level: float) -> float:
        return euler_chain_probability(
            lambda x: -x,
            1.0,
            x0=0.0,
            barrier=level * barrier,
            end_time=end_time,
            dt=dt,
            lower=lower,
        )

    return exact


def _brownian_ams(mu: float, lower: float, barrier: float, dt: float) -> Callable[[float], float]:
    def exact(level: float) -> float:
        return euler_committor(
            lambda x: mu + 0.0 * x, 1.0, x0=0.0, a=lower, b=level * barrier, dt=dt
        )

    return exact


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A TAMS configuration, its model class and the exact P(max score >= level)."""

    description: str
    model: type[Any]
    config: dict[str, Any]
    exact_at: Callable[[float], float]
    curve_levels: tuple[float, ...] = field(default=())

    def exact(self) -> float:
        """The exact probability of the target (score 1)."""
        return exact_value(self.description, 1.0)

    def run_config(self, seed: int, score: str | None = None) -> dict[str, Any]:
        """The configuration of the run with this seed (and this ``[trajectory] score``)."""
        config = {**self.config, "tams": {**self.config["tams"], "seed": seed}}
        if score is not None:
            config["trajectory"] = {**self.config["trajectory"], "score": score}
        return config


CASES: dict[str, Case] = {
    "brownian-scalar-static": Case(
        description="brownian-scalar-static",
        model=BrownianMotion,
        config={
            "tams": {"ntrajectories": 100, "kills_per_iteration": 1},
            "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
            "model": {"mu": 0.0, "sigma": 1.0, "x0": 0.0, "barrier": 2.5},
        },
        exact_at=_brownian(2.5, 0.02),
    ),
    "brownian-batched-time": Case(
        description="brownian-batched-time",
        model=BatchedBrownian,
        config={
            "tams": {"ntrajectories": 100, "kills_per_iteration": 10},
            "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
            "model": {"barrier": 5.2, "time_aware": True, "horizon": 1.0},
        },
        exact_at=_brownian(5.2, 0.02),
    ),
    "ou-hybrid-scalar-curve": Case(
        description="ou-hybrid-scalar-curve",
        model=OrnsteinUhlenbeck,
        config={
            "tams": {"ntrajectories": 100, "kills_per_iteration": 1, "variant": "hybrid"},
            "trajectory": {
                "end_time": 2.0,
                "step_size": 0.02,
                "target_score": 1.0,
                "min_score": -0.5 / 3.0,
            },
            "model": {"theta": 1.0, "sigma": 1.0, "barrier": 3.0},
        },
        exact_at=_ou_hybrid(3.0, -0.5, 2.0, 0.02),
        curve_levels=(0.5, 2.0 / 3.0, 5.0 / 6.0),
    ),
    "brownian-ams-batched": Case(
        description="brownian-ams-batched",
        model=BrownianDrift,
        config={
            "tams": {"ntrajectories": 100, "kills_per_iteration": 5, "variant": "ams"},
            "trajectory": {
                "end_time": 1.0,  # no horizon for ams
                "step_size": 0.02,
                "target_score": 1.0,
                "min_score": -0.25 / 1.5,
            },
            "model": {"mu": -3.0, "sigma": 1.0, "x0": 0.0, "barrier": 1.5},
        },
        exact_at=_brownian_ams(-3.0, -0.25, 1.5, 0.02),
    ),
    "brownian-batched-static": Case(
        description="brownian-batched-static",
        model=BatchedBrownian,
        config={
            "tams": {"ntrajectories": 100, "kills_per_iteration": 10},
            "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
            "model": {"barrier": 4.0, "time_aware": False},
        },
        exact_at=_brownian(4.0, 0.02),
    ),
}


@cache
def exact_value(case: str, level: float) -> float:
    """The exact P(max score >= level) of a case (cached: the solvers take a second)."""
    return CASES[case].exact_at(level)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run gives: the estimate, its interval, and the curve at the case's levels."""

    probability: float
    ci_low: float
    ci_high: float
    curve: tuple[float, ...]


def run_one(task: tuple[str, int, str | None]) -> Outcome:
    """One independent TAMS run of a case (with the given score, if any)."""
    name, seed, score = task
    case = CASES[name]
    result = TAMS(case.model, case.run_config(seed, score)).run()
    curve: tuple[float, ...] = ()
    if case.curve_levels:
        curve = tuple(float(p) for p in result.exceedance_curve(case.curve_levels).probability)
    return Outcome(result.probability, result.ci_low, result.ci_high, curve)


def pooled_runs(
    name: str, runs: int, first_seed: int, jobs: int = JOBS, *, score: str | None = None
) -> list[Outcome]:
    """``runs`` independent runs of a case (seeds first_seed, first_seed + 1, ...), in order.

    ``score``: a ``[trajectory] score`` value replacing the case's own score (e.g.
    ``"learned:/abs/path.npz"``; an absolute path, read by every worker process).
    """
    tasks = [(name, first_seed + i, score) for i in range(runs)]
    if jobs <= 1:
        return [run_one(t) for t in tasks]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        return pool.map(run_one, tasks, chunksize=8)


@dataclass(frozen=True, slots=True)
class Pooled:
    """The mean of many runs against an exact value."""

    exact: float
    mean: float
    std_error: float
    runs: int

    @classmethod
    def of(cls, values: np.ndarray, exact: float) -> Pooled:
        values = np.asarray(values, dtype=np.float64)
        std_error = float(values.std(ddof=1)) / math.sqrt(values.size)
        return cls(exact, float(values.mean()), std_error, values.size)

    @property
    def z(self) -> float:
        """(mean - exact) / standard error."""
        return (self.mean - self.exact) / self.std_error

    @property
    def detectable_bias(self) -> float:
        """The smallest relative bias the mean tells apart at 3 standard errors."""
        return 3.0 * self.std_error / self.exact

    @property
    def relative_sd(self) -> float:
        """The relative standard deviation of one run (measured)."""
        return self.std_error * math.sqrt(self.runs) / self.exact

    def line(self, label: str) -> str:
        return (
            f"{label}: mean {self.mean:.4e} exact {self.exact:.4e} z {self.z:+.2f} over "
            f"{self.runs} runs; relative sd per run {self.relative_sd:.3f}, "
            f"smallest detectable bias {self.detectable_bias:.1%}"
        )


def main() -> None:
    """Pilot: the pooled figures of one case."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=900_000)
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--score", default=None, help="a [trajectory] score, e.g. learned:PATH")
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes = pooled_runs(args.case, args.runs, args.first_seed, args.jobs, score=args.score)
    wall = time.perf_counter() - started
    values = np.array([o.probability for o in outcomes])
    print(Pooled.of(values, CASES[args.case].exact()).line(args.case))
    for i, level in enumerate(CASES[args.case].curve_levels):
        curve = np.array([o.curve[i] for o in outcomes])
        print(Pooled.of(curve, exact_value(args.case, level)).line(f"  curve at {level:.3f}"))
    print(f"{wall:.1f} s wall, {args.jobs} processes: {wall * args.jobs / args.runs:.3f} s per run")


if __name__ == "__main__":
    main()
