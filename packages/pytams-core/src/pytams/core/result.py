"""The result of a TAMS run, and the summary of K repeats (error bars: `estimator`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from pytams.core.estimator import Z95


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
        stop_reason: "all_converged", "target_reached", "extinction", "max_iterations",
            "max_kills" or "walltime".
        seed: The seed (give it back to reproduce the run).
        spread: Standard deviation over repeats (0 for one run).
        repeats: The individual results when K > 1.
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

    @property
    def complete(self) -> bool:
        """Whether the run produced an estimate (False after a walltime stop)."""
        return self.stop_reason != "walltime"

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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (NaN becomes None)."""
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
        return out

    def to_json(self) -> str:
        """The result as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

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
        if self.repeats:
            lines.append(f"repeats       {len(self.repeats)} (spread {self.spread:.3g})")
        lines += [
            f"iterations    {self.iterations}  (kills {self.kills})",
            f"converged     {self.converged} of {self.ntrajectories}"
            + (" (totals over repeats)" if self.repeats else ""),
            f"model steps   {self.model_steps}",
            f"wall time     {self.wall_time:.3f} s",
            f"stop reason   {self.stop_reason}",
            f"seed          {self.seed}",
        ]
        return "\n".join(lines)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
