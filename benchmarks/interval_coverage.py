"""Coverage of the single-run 95% interval (``ci_low``, ``ci_high``) against exact answers.

For each case and ensemble size N, runs TAMS ``--runs`` times with independent seeds
(k = max(1, N // 10) kills per iteration unless ``--kills`` is given; the batched path) and
counts the runs whose interval p_hat exp(-/+ 1.96 std_error / p_hat) holds the exact
probability of the Euler chain (`pytams.models.reference`). Prints, per row: the coverage,
its binomial standard error sqrt(c (1 - c) / runs), the runs whose interval lay wholly
below / above the exact value, and the extinctions (p_hat = 0, interval (0, 0)).

Cases (T = 1, target score 1; all the models are batched):

- ``brownian-static``: Brownian motion to the barrier 3 (dt = 0.01), score x / 3;
- ``brownian-time``: the same, with the time-aware score 1 - (3 - x) / (3 sqrt(1 - t))
  (level sets of the committor of driftless Brownian motion);
- ``ou-linear``: 1-D Ornstein-Uhlenbeck dX = -X dt + dW to the barrier 2 (dt = 0.02),
  score x / 2.

The table in docs/theory.md ("How often the single-run interval covers") comes from (fewer
runs at N = 200, to fit the time at hand)::

    python benchmarks/interval_coverage.py --runs 1000 --sizes 20 50
    python benchmarks/interval_coverage.py --runs 2000 --sizes 100
    python benchmarks/interval_coverage.py --runs 120 --sizes 200 --jobs 2

The N = 100 rows (seeds 1 ... 2,000) are the measured values that tests/statistics/
test_coverage.py reproduces on 1,000 other seeds.

A quick run (about a minute)::

    python benchmarks/interval_coverage.py --runs 20 --sizes 20 100
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from typing import Any

import numpy as np

from pytams.core import TAMS
from pytams.core.config import TrajectorySettings
from pytams.models.brownian import BrownianDrift
from pytams.models.ornstein_uhlenbeck import OrnsteinUhlenbeck


class TimeAwareBrownian(BrownianDrift):
    """`BrownianDrift` scored by 1 - (b - x) / ((b - x0) sqrt((T - t) / T)), horizon T = 1."""

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        remaining = np.maximum(1.0 - np.asarray(times, dtype=np.float64), 1e-12)
        gap = (self.barrier - states[:, 0]) / (self.barrier - self.x0)
        return np.asarray(1.0 - gap / np.sqrt(remaining))


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """A model, its parameters and its trajectory settings."""

    model: type[Any]
    params: dict[str, Any]
    step_size: float

    @property
    def trajectory(self) -> TrajectorySettings:
        """The ``[trajectory]`` settings of every run of the case."""
        return TrajectorySettings(end_time=1.0, step_size=self.step_size, target_score=1.0)

    def exact(self) -> float:
        """The Euler chain's exact probability."""
        answer = self.model.known_answer(self.params, self.trajectory)
        return float(answer.probability)


BROWNIAN = {"mu": 0.0, "sigma": 1.0, "x0": 0.0, "barrier": 3.0}
CASES = {
    "brownian-static": Case(model=BrownianDrift, params=BROWNIAN, step_size=0.01),
    "brownian-time": Case(model=TimeAwareBrownian, params=BROWNIAN, step_size=0.01),
    "ou-linear": Case(
        model=OrnsteinUhlenbeck,
        params={"dim": 1, "theta": 1.0, "sigma": 1.0, "barrier": 2.0},
        step_size=0.02,
    ),
}


@dataclass(frozen=True, slots=True)
class Task:
    """One run: the case, N, k and the seed."""

    case: str
    n: int
    k: int
    seed: int


def run_one(task: Task) -> tuple[Task, float, float, float]:
    """Run TAMS once; return the task, p_hat and its interval."""
    case = CASES[task.case]
    config = {
        "tams": {"ntrajectories": task.n, "kills_per_iteration": task.k, "seed": task.seed},
        "trajectory": {"end_time": 1.0, "step_size": case.step_size, "target_score": 1.0},
        "model": case.params,
    }
    result = TAMS(case.model, config).run()
    return task, result.probability, result.ci_low, result.ci_high


def tasks(
    cases: Sequence[str], sizes: Sequence[int], runs: int, kills: int | None, first_seed: int = 1
) -> list[Task]:
    """Every run of the measurement (seeds first_seed, ..., the same for every row)."""
    return [
        Task(case, n, kills or max(1, n // 10), seed)
        for case in cases
        for n in sizes
        for seed in range(first_seed, first_seed + runs)
    ]


def results(todo: list[Task], jobs: int) -> Iterator[tuple[Task, float, float, float]]:
    """The runs' outcomes, in ``jobs`` processes."""
    if jobs <= 1:
        yield from map(run_one, todo)
        return
    with Pool(jobs) as pool:
        yield from pool.imap_unordered(run_one, todo, chunksize=4)


HEADER = (
    f"{'case':<16} {'p exact':>10} {'N':>4} {'k':>3} {'runs':>5} {'coverage':>9} "
    f"{'+/- se':>7} {'below':>6} {'above':>6} {'p=0':>5}"
)


def row(task: Task, exact: float, outcomes: list[tuple[float, float, float]]) -> str:
    """One line of the table: the coverage of one (case, N, k) and how the misses fell."""
    below = sum(high < exact for _, _, high in outcomes)
    above = sum(low > exact for _, low, _ in outcomes)
    runs = len(outcomes)
    coverage = (runs - below - above) / runs
    se = math.sqrt(coverage * (1.0 - coverage) / runs)
    extinct = sum(p == 0.0 for p, _, _ in outcomes)
    return (
        f"{task.case:<16} {exact:>10.4e} {task.n:>4} {task.k:>3} {runs:>5} {coverage:>9.3f} "
        f"{se:>7.3f} {below:>6} {above:>6} {extinct:>5}"
    )


def main() -> None:
    """Measure and print the table, a line per (case, N) as soon as it is done."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs per case and N (400)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument(
        "--cases", nargs="+", choices=sorted(CASES), default=["brownian-static", "ou-linear"]
    )
    parser.add_argument("--kills", type=int, default=None, help="k (default: max(1, N // 10))")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (1)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds from this one (1)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(HEADER, flush=True)
    for n in args.sizes:
        for case in args.cases:
            todo = tasks([case], [n], args.runs, args.kills, args.first_seed)
            outcomes = [(p, low, high) for _, p, low, high in results(todo, args.jobs)]
            print(row(todo[0], CASES[case].exact(), outcomes), flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
