"""Everything one finished run tells beyond its probability (Lestang et al. 2018).

Weights. A trajectory killed at iteration j (1-based) weighs W_{j-1} / N, a trajectory of the
final ensemble W_J / N; the weights of all the run's trajectories sum to 1 (the sum
telescopes: l_j W_{j-1} / N = W_{j-1} - W_j). A Monte Carlo run has no iterations: each
trajectory weighs 1 / N.

Exceedance curve. For a level a <= target, p_hat(a) = sum of the weights of the trajectories
whose maximum score Q is >= a. This is exactly the generalized-AMS estimator that a run with
target a would have returned (W_{J_a} M_a / N, with J_a the number of iterations whose level
is below a and M_a the trajectories of the ensemble after J_a iterations with Q >= a: the
levels are strictly increasing and a clone branches above its level, so the run with target b
coincides with the run with target a up to iteration J_a), hence unbiased for every a at
once.

Its standard error is the genealogy (Chan and Lai) estimator of `pytams.core.estimator`
applied at each level a to the ensemble after J_a iterations: with Z_e(a) = W_{J_a} / N times
the number of trajectories of that ensemble descending from the initial trajectory e with
Q >= a,

    Var(p_hat(a)) ~ sum_e Z_e(a)**2 - p_hat(a)**2 / N = sum_e (Z_e(a) - p_hat(a) / N)**2.

It is the binomial p (1 - p) / N below the first level (J_a = 0), equals the run's own
std_error at the target, and is 0 where p_hat(a) = 1. How honest it is for ordinary scores
is measured by tests/samplers (the note shared/notes/tams-theory.md says what is known).

Return time of a level for a run of horizon T: r(a) = -T / ln(1 - p(a)) (variant tams only:
ams and hybrid trajectories have no fixed duration).

Weighted averages over trajectories. For an observable f of the path up to its first
crossing of a level a (a first-crossing time, the path itself up to the target), the
weighted sum over the trajectories with Q >= a estimates E[f 1(Q >= a)] without bias (a
clone shares its parent's path up to its branching point, above a); the ratio to p_hat(a) is
the conditional mean. The reactive trajectories are those that converged; they all belong to
the final ensemble (a killed one never reached the target) and weigh W_J / N each.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from pytams.core.database import Database
from pytams.core.errors import StorageError
from pytams.core.estimator import Z95, genealogy_std_error
from pytams.core.store import IterationRecord
from pytams.core.trajectory import Trajectory, TrajectoryKey

FloatArray = NDArray[np.float64]


class ExceedanceCurve(NamedTuple):
    """P(max score >= level) at ascending levels, with standard errors.

    Unpacks as ``levels, probability, std_error = curve``.
    """

    levels: FloatArray
    probability: FloatArray
    std_error: FloatArray

    def return_times(self, horizon: float) -> FloatArray:
        """r(a) = -T / ln(1 - p(a)) for trajectories of duration T = ``horizon``.

        Infinite where p(a) = 0, zero where p(a) = 1.
        """
        with np.errstate(divide="ignore"):
            return np.asarray(-horizon / np.log1p(-self.probability), dtype=np.float64)

    def interval(self, z: float = Z95) -> FloatArray:
        """The 95% interval of p(a), normal on the log scale as the run's own interval.

        p exp(-/+ z std_error / p) (capped at 1): shape (2, levels), low then high; (0, 0)
        where p = 0.
        """
        p = self.probability
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(p > 0.0, self.std_error / np.where(p > 0.0, p, 1.0), 0.0)
        low = p * np.exp(-z * relative)
        high = np.minimum(1.0, p * np.exp(z * relative))
        return np.asarray(np.vstack([low, high]), dtype=np.float64)

    def return_time_band(self, horizon: float, z: float = Z95) -> FloatArray:
        """The return times of the ends of `interval`: shape (2, levels), low then high."""
        low_p, high_p = self.interval(z)
        with np.errstate(divide="ignore"):
            low = -horizon / np.log1p(-high_p)
            high = -horizon / np.log1p(-low_p)
        return np.asarray(np.vstack([low, high]), dtype=np.float64)

    def to_dict(self) -> dict[str, list[float | None]]:
        """JSON-ready: ``{"levels": [...], "probability": [...], "std_error": [...]}``."""
        return {
            "levels": [_finite(v) for v in self.levels],
            "probability": [_finite(v) for v in self.probability],
            "std_error": [_finite(v) for v in self.std_error],
        }


@dataclass(frozen=True, slots=True)
class WeightedTrajectories:
    """Trajectories with their weights (for the reactive ones: they sum to p_hat)."""

    trajectories: tuple[Trajectory, ...]
    weights: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.trajectories)

    def __iter__(self) -> Iterator[tuple[Trajectory, float]]:
        return iter(zip(self.trajectories, self.weights, strict=True))

    @property
    def total_weight(self) -> float:
        """The sum of the weights (p_hat for the reactive trajectories)."""
        return math.fsum(self.weights)

    def average(self, observable: Callable[[Trajectory], Any]) -> Any:
        """The weighted mean of ``observable(trajectory)`` (numbers or numpy arrays).

        Raises:
            ValueError: When there is no trajectory (nothing reached the target).
        """
        total = self.total_weight
        if not self.trajectories or total <= 0.0:
            msg = "no trajectory to average over (no trajectory reached the target)"
            raise ValueError(msg)
        values = [np.asarray(observable(t), dtype=np.float64) for t in self.trajectories]
        mean = sum((w * v for w, v in zip(self.weights, values, strict=True)), np.zeros(()))
        mean = mean / total
        return float(mean) if np.ndim(mean) == 0 else mean


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelCrossings:
    """Weighted first-crossing statistics of one level.

    Attributes:
        level: The level a (score units).
        crossings: How many of the run's trajectories reached a (unweighted count).
        probability: p_hat(a), the weighted fraction that reached a.
        std_error: Its standard error (see the module docstring).
        mean_time: Weighted mean time of the first crossing, among the paths that cross
            (NaN if none does).
        std_time: Weighted standard deviation of that time.
        median_time: Weighted median of that time.
    """

    level: float
    crossings: int
    probability: float
    std_error: float
    mean_time: float
    std_time: float
    median_time: float

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready (NaN becomes None)."""
        return {
            "level": self.level,
            "crossings": self.crossings,
            "probability": _finite(self.probability),
            "std_error": _finite(self.std_error),
            "mean_time": _finite(self.mean_time),
            "std_time": _finite(self.std_time),
            "median_time": _finite(self.median_time),
        }


class RunHistory:
    """A finished run read back from its database: weights, curve, crossings.

    Args:
        database: The run's database (in memory or opened from disk).

    Raises:
        StorageError: When the run is not complete (no ensemble, or an iteration pending).
    """

    def __init__(self, database: Database) -> None:
        metadata = database.metadata
        if metadata is None:
            msg = "the database holds no run; run TAMS first"
            raise StorageError(msg)
        ensemble = database.ensemble
        if ensemble is None or database.pending is not None:
            msg = (
                "the run in this database is not finished (its walltime stopped it); resume "
                "it before asking for its curve"
            )
            raise StorageError(msg)
        config = metadata.get("config", {})
        self.database = database
        self.n: int = int(config["tams"]["ntrajectories"])
        self.target: float = float(config["trajectory"]["target_score"])
        self.horizon: float = float(config["trajectory"]["end_time"])
        self.variant: str = str(config["tams"].get("variant", "tams"))
        self.iterations: list[IterationRecord] = database.iterations
        self.final: list[Trajectory] = list(ensemble)
        self._levels = [r.level for r in self.iterations]
        before = [1.0] + [r.weight for r in self.iterations]
        self.final_weight: float = before[-1]
        weights: dict[TrajectoryKey, float] = {t.key: before[-1] / self.n for t in self.final}
        for j, record in enumerate(self.iterations):
            for key in record.killed:
                weights[key] = before[j] / self.n
        self.weights: dict[TrajectoryKey, float] = weights
        self._maxima: dict[TrajectoryKey, float] = {t.key: t.max_score for t in self.final}
        if int(config["tams"].get("kills_per_iteration", 1)) == 1:
            # k = 1: the level is the smallest Q and every killed Q equals it (no reads)
            for record in self.iterations:
                for key in record.killed:
                    self._maxima[key] = record.level
        for key in weights:
            if key not in self._maxima:
                self._maxima[key] = database.trajectory(key).max_score

    # ------------------------------------------------------------------ weights
    def max_score(self, key: TrajectoryKey) -> float:
        """Q of any trajectory of the run."""
        return self._maxima[key]

    def default_levels(self) -> FloatArray:
        """Every distinct maximum score of the run, capped at the target, ascending."""
        values = np.minimum(np.fromiter(self._maxima.values(), dtype=np.float64), self.target)
        return np.unique(values)

    # ------------------------------------------------------------------ exceedance
    def exceedance_curve(
        self, levels: Sequence[float] | FloatArray | None = None
    ) -> ExceedanceCurve:
        """p_hat(a) and its standard error at ``levels`` (default: `default_levels`).

        Raises:
            ValueError: For a level above the target score (trajectories stop there).
        """
        grid = self.default_levels() if levels is None else np.asarray(levels, dtype=np.float64)
        grid = np.sort(grid.ravel())
        if grid.size and grid[-1] > self.target:
            msg = (
                f"level {grid[-1]} is above the target score {self.target}: trajectories stop "
                "at the target, so the run says nothing above it"
            )
            raise ValueError(msg)
        n = self.n
        q = np.array([self._maxima[TrajectoryKey(s)] for s in range(n)], dtype=np.float64)
        eve = np.arange(n)
        done = 0
        probability = np.empty(grid.size)
        std_error = np.empty(grid.size)
        for i, level in enumerate(grid):
            wanted = bisect.bisect_left(self._levels, float(level))
            while done < wanted:
                record = self.iterations[done]
                for killed, parent in zip(record.killed, record.parents, strict=True):
                    clone = killed.next_generation()
                    q[killed.slot] = self._maxima[clone]
                    eve[killed.slot] = eve[parent.slot]
                done += 1
            weight = self.iterations[done - 1].weight if done else 1.0
            counts = np.bincount(eve[q >= level], minlength=n)
            probability[i], std_error[i] = genealogy_std_error(weight, counts)
        return ExceedanceCurve(grid, probability, std_error)

    # ------------------------------------------------------------------ trajectories
    def reactive_trajectories(self) -> WeightedTrajectories:
        """The converged trajectories (all in the final ensemble), each weighing W_J / N."""
        reactive = tuple(t for t in self.final if t.converged)
        return WeightedTrajectories(reactive, tuple(self.weights[t.key] for t in reactive))

    def all_trajectories(self) -> WeightedTrajectories:
        """Every trajectory of the run with its weight (the weights sum to 1)."""
        keys = sorted(self.weights)
        final = {t.key: t for t in self.final}
        trajectories = tuple(final.get(k) or self.database.trajectory(k) for k in keys)
        return WeightedTrajectories(trajectories, tuple(self.weights[k] for k in keys))

    def first_crossings(self, levels: Sequence[float]) -> list[LevelCrossings]:
        """Weighted first-crossing statistics of each level (levels <= the target)."""
        grid = sorted(float(a) for a in levels)
        curve = self.exceedance_curve(grid)
        times: list[list[float]] = [[] for _ in grid]
        weights: list[list[float]] = [[] for _ in grid]
        lowest = grid[0] if grid else math.inf
        final = {t.key: t for t in self.final}
        for key, weight in self.weights.items():
            if self._maxima[key] < lowest:
                continue
            trajectory = final.get(key) or self.database.trajectory(key)
            scores = np.asarray(trajectory.scores, dtype=np.float64)
            running = np.maximum.accumulate(scores)
            for i, level in enumerate(grid):
                if running[-1] < level:
                    break
                index = int(np.searchsorted(running, level, side="left"))
                times[i].append(trajectory.times[index])
                weights[i].append(weight)
        out = []
        for i, level in enumerate(grid):
            mean, std, median = _weighted_stats(times[i], weights[i])
            out.append(
                LevelCrossings(
                    level=level,
                    crossings=len(times[i]),
                    probability=float(curve.probability[i]),
                    std_error=float(curve.std_error[i]),
                    mean_time=mean,
                    std_time=std,
                    median_time=median,
                )
            )
        return out


def combine_curves(curves: Sequence[ExceedanceCurve]) -> ExceedanceCurve:
    """K independent runs' curves at the same levels: mean and empirical standard error."""
    levels = curves[0].levels
    values = np.vstack([c.probability for c in curves])
    k = len(curves)
    mean = values.mean(axis=0)
    std_error = values.std(axis=0, ddof=1) / math.sqrt(k) if k > 1 else curves[0].std_error
    return ExceedanceCurve(levels, mean, np.asarray(std_error, dtype=np.float64))


def _weighted_stats(values: list[float], weights: list[float]) -> tuple[float, float, float]:
    if not values:
        return math.nan, math.nan, math.nan
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = float(w @ v)
    std = math.sqrt(max(float(w @ (v - mean) ** 2), 0.0))
    order = np.argsort(v, kind="stable")
    cumulative = np.cumsum(w[order])
    median = float(v[order][min(int(np.searchsorted(cumulative, 0.5)), v.size - 1)])
    return mean, std, median


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
