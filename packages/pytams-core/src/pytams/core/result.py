"""The result of a TAMS run, and the summary of K repeats (error bars: `estimator`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytams.core.curve import (
    ExceedanceCurve,
    LevelCrossings,
    RunHistory,
    WeightedTrajectories,
    combine_curves,
)
from pytams.core.database import Database
from pytams.core.estimator import Z95
from pytams.core.stop import StopReason

MEASURED_COVERAGE: tuple[tuple[int, float], ...] = (
    (20, 0.785),
    (50, 0.935),
    (100, 0.936),
    (200, 0.95),
)
"""How often the single-run 95% interval held the exact value, by N.

The lowest coverage over the cases of docs/theory.md ("How often the single-run interval
covers": Brownian motion and Ornstein-Uhlenbeck, p near 3e-3, k = N/10, 120 to 2,000 runs
per value, by benchmarks/interval_coverage.py). ``summary()`` prints a caveat for
single runs below the first N that reached 90% (`INTERVAL_CAVEAT_BELOW`).
"""

INTERVAL_CAVEAT_BELOW: int = min(
    (n for n, coverage in MEASURED_COVERAGE if coverage >= 0.9),
    default=MEASURED_COVERAGE[-1][0] + 1,
)
"""Single runs with fewer trajectories than this get the coverage caveat in ``summary()``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TAMSResult:
    """What a run found.

    With K > 1 repeats, ``probability`` is the mean of the K estimates, ``std_error`` their
    empirical standard error (standard deviation / sqrt(K)), ``spread`` their standard
    deviation, the interval mean +/- 1.96 standard errors, and ``repeats`` holds each run's
    result; counts (iterations, converged, model steps) are totals.

    Attributes:
        probability: p_hat (NaN when the run stopped at its walltime, claiming no estimate).
        std_error: Its standard error.
        ci_low, ci_high: The 95% confidence interval.
        iterations: Number of iterations J (not the number of kills).
        kills: Number of trajectories killed (>= iterations; ties are all killed).
        levels: z_j, one per iteration.
        weights: W_j after each iteration (W_0 = 1 not included).
        converged: Converged trajectories in the final ensemble.
        ntrajectories: N.
        model_steps: Model steps spent (initial ensemble, clones and replays).
        wall_time: Seconds (not part of equality: the same seed gives an equal result).
        stop_reason: A `StopReason` (a str: "all_converged", "target_reached", "extinction",
            "max_iterations", "max_kills" or "walltime"; "montecarlo" for ``[tams] sampler =
            "montecarlo"`` (then p_hat = converged / N, std_error the binomial
            sqrt(p (1 - p) / N) and the interval Wilson's:
            `pytams.core.estimator.wilson_interval`); over repeats that stopped differently,
            the string "mixed: " and their reasons.
        seed: The seed (give it back to reproduce the run).
        spread: Standard deviation over repeats (0 for one run).
        repeats: The individual results when K > 1.
        database: The run's database (not part of equality nor of the repr): what
            `exceedance_curve`, `reactive_trajectories` and `level_crossings` read.
    """

    probability: float
    std_error: float
    ci_low: float
    ci_high: float
    iterations: int
    kills: int
    levels: tuple[float, ...]
    weights: tuple[float, ...]
    converged: int
    ntrajectories: int
    model_steps: int
    wall_time: float = field(compare=False)
    stop_reason: str
    seed: int
    spread: float = 0.0
    repeats: tuple[TAMSResult, ...] = ()
    database: Database | None = field(default=None, compare=False, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        """Whether the run produced an estimate (False after a walltime stop)."""
        return self.stop_reason != StopReason.WALLTIME

    @classmethod
    def of_repeats(cls, results: list[TAMSResult], wall_time: float) -> TAMSResult:
        """Summarise K independent runs: mean, empirical standard error and spread."""
        values = [r.probability for r in results]
        k = len(values)
        mean = math.fsum(values) / k
        spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (k - 1)) if k > 1 else 0.0
        std_error = spread / math.sqrt(k)
        reasons = sorted({r.stop_reason for r in results})
        return cls(
            probability=mean,
            std_error=std_error,
            ci_low=max(0.0, mean - Z95 * std_error),
            ci_high=mean + Z95 * std_error,
            iterations=sum(r.iterations for r in results),
            kills=sum(r.kills for r in results),
            levels=(),
            weights=(),
            converged=sum(r.converged for r in results),
            ntrajectories=results[0].ntrajectories,
            model_steps=sum(r.model_steps for r in results),
            wall_time=wall_time,
            stop_reason=reasons[0] if len(reasons) == 1 else "mixed: " + ", ".join(reasons),
            seed=results[0].seed,
            spread=spread,
            repeats=tuple(results),
        )

    def outcome(self) -> dict[str, Any]:
        """How the run ended, as its database stores it (``metadata["outcome"]``).

        The estimate fields are NaN for an incomplete (walltime-stopped) run.
        """
        return {
            "stop_reason": str(self.stop_reason),
            "probability": float(self.probability),
            "std_error": float(self.std_error),
            "ci_low": float(self.ci_low),
            "ci_high": float(self.ci_high),
            "iterations": self.iterations,
            "converged": self.converged,
            "model_steps": self.model_steps,
            "wall_time": float(self.wall_time),
            "complete": self.complete,
        }

    # ------------------------------------------------------------------ beyond p_hat
    def history(self) -> RunHistory:
        """The finished run read back from its database (weights of every trajectory).

        Raises:
            ValueError: For a result with no database (a summary of repeats: see `repeats`).
        """
        if self.database is None:
            if self.repeats:
                msg = "a summary of repeats has no single history; use result.repeats[i]"
            else:
                msg = "this result carries no database (it was built by hand)"
            raise ValueError(msg)
        if "history" not in self._cache:
            self._cache["history"] = RunHistory(self.database)
        history: RunHistory = self._cache["history"]
        return history

    def exceedance_curve(
        self, levels: Sequence[float] | np.ndarray | None = None
    ) -> ExceedanceCurve:
        """P(max score >= a) for levels a <= target: ``levels, probability, std_error``.

        From one run: the Lestang et al. weights and the genealogy error bar (`pytams.core.
        curve`); default levels: every distinct maximum score of the run (capped at the
        target). For K > 1 repeats: the mean of the K curves and its empirical standard
        error, at ``levels`` (default: the union of the repeats' default levels).
        """
        if self.database is None and self.repeats:
            histories = [r.history() for r in self.repeats]
            if levels is None:
                grid = np.unique(np.concatenate([h.default_levels() for h in histories]))
            else:
                grid = np.asarray(levels, dtype=np.float64)
            return combine_curves([h.exceedance_curve(grid) for h in histories])
        return self.history().exceedance_curve(levels)

    def return_time_curve(
        self, levels: Sequence[float] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return times r(a) = -T / ln(1 - p(a)) of a fixed-horizon (tams) run.

        Returns:
            (levels, return_time, band): band has shape (2, levels): the return times of
            the ends of the 95% interval p exp(-/+ 1.96 std_error / p).

        Raises:
            ValueError: For the ams and hybrid variants (no fixed trajectory duration).
        """
        source = self.repeats[0] if self.database is None and self.repeats else self
        history = source.history()
        if history.variant != "tams":
            msg = (
                f"return times need trajectories of a fixed duration T; a {history.variant!r} "
                "run has none (use exceedance_curve)"
            )
            raise ValueError(msg)
        curve = self.exceedance_curve(levels)
        horizon = history.horizon
        return curve.levels, curve.return_times(horizon), curve.return_time_band(horizon)

    def reactive_trajectories(self) -> WeightedTrajectories:
        """The trajectories that reached the target with their weights (summing to p_hat).

        For K > 1 repeats: all repeats' reactive trajectories, weights divided by K.
        """
        if self.database is None and self.repeats:
            parts = [r.reactive_trajectories() for r in self.repeats]
            k = len(parts)
            return WeightedTrajectories(
                tuple(t for p in parts for t in p.trajectories),
                tuple(w / k for p in parts for w in p.weights),
            )
        return self.history().reactive_trajectories()

    def reactive_average(self, observable: Callable[[Any], Any]) -> Any:
        """Weighted mean of ``observable(trajectory)`` over the reactive trajectories."""
        return self.reactive_trajectories().average(observable)

    def level_crossings(self, levels: Sequence[float]) -> list[LevelCrossings]:
        """Weighted first-crossing statistics (count, probability, times) of each level."""
        return self.history().first_crossings(levels)

    def to_dict(self, *, curve: bool = False) -> dict[str, Any]:
        """A JSON-ready dictionary (NaN becomes None).

        Args:
            curve: Also write ``"exceedance_curve": {"levels", "probability", "std_error"}``
                (levels ascending in score units) when the run's database is available.
        """
        out: dict[str, Any] = {
            "probability": _finite(self.probability),
            "std_error": _finite(self.std_error),
            "ci_low": _finite(self.ci_low),
            "ci_high": _finite(self.ci_high),
            "iterations": self.iterations,
            "kills": self.kills,
            "converged": self.converged,
            "ntrajectories": self.ntrajectories,
            "model_steps": self.model_steps,
            "wall_time": self.wall_time,
            "stop_reason": self.stop_reason,
            "complete": self.complete,
            "seed": self.seed,
            "levels": list(self.levels),
            "weights": list(self.weights),
        }
        if self.repeats:
            out["spread"] = self.spread
            out["repeats"] = [r.to_dict() for r in self.repeats]
        has_database = self.database is not None or (
            bool(self.repeats) and all(r.database is not None for r in self.repeats)
        )
        if curve and self.complete and has_database:
            out["exceedance_curve"] = self.exceedance_curve().to_dict()
        return out

    def to_json(self, *, curve: bool = False) -> str:
        """The result as a JSON document (``curve``: see `to_dict`)."""
        return json.dumps(self.to_dict(curve=curve), indent=2)

    def summary(self) -> str:
        """A few human-readable lines."""
        if not self.complete:
            return (
                f"stopped at the walltime after {self.iterations} iterations; no estimate "
                "claimed (resume the run from its database)"
            )
        lines = [
            f"probability   {self.probability:.6g}  (std error {self.std_error:.3g}, "
            f"95% CI [{self.ci_low:.4g}, {self.ci_high:.4g}])",
        ]
        lines += self._interval_caveat()
        if self.repeats:
            lines.append(
                f"repeats       {len(self.repeats)} (spread {self.spread:.3g}; "
                "the counts below are totals over them)"
            )
        lines += [
            f"iterations    {self.iterations}  (kills {self.kills})",
            f"converged     {self._converged_of()}",
            f"model steps   {self.model_steps}",
            f"wall time     {self.wall_time:.3f} s",
            f"stop reason   {self.stop_reason}",
            f"seed          {self.seed}",
        ]
        return "\n".join(lines)

    def _interval_caveat(self) -> list[str]:
        """The note under a single run's interval when N is below `INTERVAL_CAVEAT_BELOW`."""
        single = not self.repeats and self.stop_reason != StopReason.MONTECARLO
        if not single or self.ntrajectories >= INTERVAL_CAVEAT_BELOW:
            return []
        n, coverage = _measured_coverage(self.ntrajectories)
        return [
            f"note          at N = {n} this 95% CI held the exact value in ~{coverage:.0%} of "
            "test runs (docs/theory.md); use repeats (--set tams.repeats=10) for a dependable "
            "error bar"
        ]

    def _converged_of(self) -> str:
        """Converged trajectories out of how many (totals over the repeats when K > 1)."""
        if not self.repeats:
            return f"{self.converged} of {self.ntrajectories}"
        k = len(self.repeats)
        total = sum(r.ntrajectories for r in self.repeats)
        return f"{self.converged} of {total} ({k} repeats x {self.ntrajectories})"


def _measured_coverage(n: int) -> tuple[int, float]:
    """The measured (N, coverage) for a run of N trajectories: the largest measured N <= n."""
    below = [row for row in MEASURED_COVERAGE if row[0] <= n]
    return below[-1] if below else MEASURED_COVERAGE[0]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
