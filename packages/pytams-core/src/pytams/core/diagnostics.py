"""Is the score good? Two diagnostics of a finished run (docs/theory.md).

Variance ratio. With the ideal score (the committor q, 1 at the target) and k = 1, the
relative variance of p_hat is known exactly (Guyader, Hengartner and Matzner-Lober 2011):

    Var(p_hat) / p**2 = p**(-1/N) - 1  ~  (-ln p) / N,

the smallest TAMS can reach. We report the measured relative variance, the optimum in the
exact form p**(-1/N) - 1 (at p = p_hat; the same leading order for any k << N) and their
ratio: 1 is ideal, ordinary scores give 1.3 to 2.3. The measured relative variance comes from
K independent repeats (their empirical variance over the squared mean: the reference) or, for
a single run, from its genealogy estimate (std_error / p_hat)**2, which overestimates the
variance (about 2x with the committor as score, see the tests): compare single-run ratios
with each other, not with 1.

Level-crossing check. With the committor as score (scaled so the target is 1), the weighted
probability of crossing level z is P(z) = p / z for z in (0, 1]: a trajectory that crossed z
reaches the target with probability q = z. So the implied committor p_hat / P(z) (read from
the run's exceedance curve) should equal the score z / target, and the ratio

    r(z) = (z / target) * P(z) / p_hat

is flat at 1. With another score it departs from 1 (r > 1: the score overrates how close a
level is). Levels: geometric in P, the first level whose P(z) is at or below p_hat**(i/(m+1)),
i = 1..m (equal steps of -ln P, where the committor's grid is geometric in z). Headline: the
root mean square of ln r over the grid (0 for the committor), beside the RMS of its standard
errors (what noise alone gives): a headline well above the noise says the score is not the
committor. The standard error of ln r at each level is the genealogy (delta-method) error of
the ratio p_hat / P(z) = sum_e Z_e(target) / sum_e Z_e(z) over the initial trajectories e
(`pytams.core.estimator`); over repeats, the empirical one. The check tests the score's
values, not only its level sets: an increasing function of the committor (brownian.py's
``time_aware`` score) has the ideal variance but fails it, so read it with the variance ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pytams.core.estimator import genealogy_std_error
from pytams.core.stop import StopReason

if TYPE_CHECKING:
    from pytams.core.curve import RunHistory
    from pytams.core.result import TAMSResult

FloatArray = NDArray[np.float64]

GRID_POINTS: int = 9
"""Levels of the crossing check: P(z) near p_hat**(i/10), i = 1..9."""

VARIANCE_MEANING = (
    "measured relative variance of p_hat / the optimum p^(-1/N) - 1 of the committor "
    "(1 is ideal; ordinary scores 1.3-2.3)"
)
CROSSING_MEANING = (
    "RMS of ln[(z/target) P(z) / p_hat] over the levels: 0 when the score is the committor "
    "(P(cross z) = p / z); compare with the noise"
)
GENEALOGY_NOTE = (
    "single run: the genealogy variance overestimates (about 2x with the committor); "
    "use repeats for a ratio to compare with 1"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossingCheck:
    """The level-crossing check at one level.

    Attributes:
        level: z (score units).
        probability: P(z), the weighted probability of crossing z (the exceedance curve).
        std_error: Its standard error (the curve's).
        ratio: r(z) = (z / target) P(z) / p_hat (1 for the committor).
        log_error: The standard error of ln r(z).
    """

    level: float
    probability: float
    std_error: float
    ratio: float
    log_error: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready (NaN becomes None)."""
        return {
            "level": _finite(self.level),
            "probability": _finite(self.probability),
            "std_error": _finite(self.std_error),
            "ratio": _finite(self.ratio),
            "log_error": _finite(self.log_error),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreDiagnostics:
    """How good the score of a finished run is: variance ratio and level-crossing check.

    Build it with `score_diagnostics` (a `TAMSResult`), `diagnose_history` (one run's
    `RunHistory`) or `diagnose_repeats`. A field that could not be computed is NaN (None in
    `to_dict`) and the matching note says why.

    Attributes:
        available: False when the run gives no diagnostics at all (``reason`` says why).
        reason: Why not ("" when available).
        probability: p_hat (the mean over repeats).
        ntrajectories: N.
        target: The target score (the crossing check scales levels by it).
        variance_source: "repeats", "genealogy", or "" when there is no variance ratio.
        repeats: K (1 for a single run).
        relative_variance: The measured Var(p_hat) / p_hat**2 of one run.
        optimum: p_hat**(-1/N) - 1, the committor's relative variance (k = 1).
        variance_ratio: relative_variance / optimum (1 is ideal).
        variance_ratio_error: Its standard error (repeats only: from their fourth moment).
        variance_note: What limits the variance ratio ("" when nothing).
        crossings: The check at each level of the grid.
        crossing_rms: The headline: RMS of ln r(z) over the grid (0 for the committor).
        crossing_noise: RMS of the standard errors of ln r(z): what noise alone gives.
        crossing_note: What limits the crossing check ("" when nothing).
    """

    available: bool
    reason: str = ""
    probability: float = math.nan
    ntrajectories: int = 0
    target: float = math.nan
    variance_source: str = ""
    repeats: int = 1
    relative_variance: float = math.nan
    optimum: float = math.nan
    variance_ratio: float = math.nan
    variance_ratio_error: float = math.nan
    variance_note: str = ""
    crossings: tuple[CrossingCheck, ...] = field(default=())
    crossing_rms: float = math.nan
    crossing_noise: float = math.nan
    crossing_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None), with the meaning of each headline."""
        return {
            "available": self.available,
            "reason": self.reason,
            "probability": _finite(self.probability),
            "ntrajectories": self.ntrajectories,
            "target": _finite(self.target),
            "variance": {
                "source": self.variance_source or None,
                "repeats": self.repeats,
                "relative_variance": _finite(self.relative_variance),
                "optimum": _finite(self.optimum),
                "ratio": _finite(self.variance_ratio),
                "ratio_std_error": _finite(self.variance_ratio_error),
                "note": self.variance_note,
                "meaning": VARIANCE_MEANING,
            },
            "crossing": {
                "rms_log_ratio": _finite(self.crossing_rms),
                "noise": _finite(self.crossing_noise),
                "levels": [c.to_dict() for c in self.crossings],
                "note": self.crossing_note,
                "meaning": CROSSING_MEANING,
            },
        }

    def lines(self) -> list[str]:
        """A few human-readable lines, each headline with its one-line meaning."""
        if not self.available:
            return [f"score diagnostics: none ({self.reason})"]
        out = ["score diagnostics (docs/theory.md, 'Is the score good?'):"]
        if math.isfinite(self.variance_ratio):
            error = (
                f" +/- {self.variance_ratio_error:.2f}"
                if math.isfinite(self.variance_ratio_error)
                else ""
            )
            source = f"{self.repeats} repeats" if self.variance_source == "repeats" else "genealogy"
            out.append(
                f"  variance ratio  {self.variance_ratio:.3g}{error}  (relative variance "
                f"{self.relative_variance:.3g} from {source}, optimum {self.optimum:.3g})"
            )
            out.append(f"    {VARIANCE_MEANING}")
        if self.variance_note:
            out.append(f"    note: {self.variance_note}")
        if math.isfinite(self.crossing_rms):
            out.append(
                f"  crossing check  {self.crossing_rms:.3g}  (noise {self.crossing_noise:.3g}; "
                f"{len(self.crossings)} levels)"
            )
            out.append(f"    {CROSSING_MEANING}")
            ratios = ", ".join(
                f"{c.level:.3g}: {c.ratio:.3g}" for c in self.crossings if math.isfinite(c.ratio)
            )
            out.append(f"    z: (z/target) P(z)/p_hat = {ratios}")
        if self.crossing_note:
            out.append(f"    note: {self.crossing_note}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# ---------------------------------------------------------------------------- entry points
def score_diagnostics(result: TAMSResult, *, points: int = GRID_POINTS) -> ScoreDiagnostics:
    """The diagnostics of a finished run or of a summary of K repeats.

    Args:
        result: What `TAMS.run` returned (with its database, or its repeats').
        points: Levels of the crossing check.
    """
    if result.repeats:
        histories: list[RunHistory] | None = None
        if all(r.database is not None for r in result.repeats) and result.complete:
            histories = [r.history() for r in result.repeats]
        return diagnose_repeats(
            [r.probability for r in result.repeats],
            ntrajectories=result.ntrajectories,
            stop_reasons=[str(r.stop_reason) for r in result.repeats],
            histories=histories,
            points=points,
        )
    history = result.history() if result.database is not None and result.complete else None
    return diagnose_history(
        history,
        probability=result.probability,
        std_error=result.std_error,
        ntrajectories=result.ntrajectories,
        stop_reason=str(result.stop_reason),
        points=points,
    )


def diagnose_history(
    history: RunHistory | None,
    *,
    probability: float,
    std_error: float,
    ntrajectories: int,
    stop_reason: str,
    points: int = GRID_POINTS,
) -> ScoreDiagnostics:
    """The diagnostics of one run: genealogy variance ratio and the crossing check.

    Args:
        history: The finished run read back (None: no crossing check).
        probability: p_hat.
        std_error: Its genealogy standard error.
        ntrajectories: N.
        stop_reason: How the run stopped (a `StopReason` value).
        points: Levels of the crossing check.
    """
    missing = _missing(probability, stop_reason)
    if missing:
        return ScoreDiagnostics(available=False, reason=missing, probability=probability)
    n = ntrajectories
    optimum = _optimum(probability, n)
    relative = (std_error / probability) ** 2
    montecarlo = stop_reason == StopReason.MONTECARLO
    variance: dict[str, Any] = {
        "variance_source": "" if montecarlo else "genealogy",
        "relative_variance": relative,
        "optimum": optimum,
        "variance_ratio": math.nan if montecarlo else relative / optimum,
        "variance_note": (
            "a Monte Carlo run: no splitting, the score plays no part in its variance"
            if montecarlo
            else GENEALOGY_NOTE
        ),
    }
    crossing: dict[str, Any]
    if history is None:
        crossing = {"crossing_note": "no database: no exceedance curve, no crossing check"}
    else:
        crossing = _single_crossings(history, probability, points)
    target = math.nan if history is None else history.target
    return ScoreDiagnostics(
        available=True,
        probability=probability,
        ntrajectories=n,
        target=target,
        **variance,
        **crossing,
    )


def diagnose_repeats(
    probabilities: Sequence[float],
    *,
    ntrajectories: int,
    stop_reasons: Sequence[str] = (),
    histories: Sequence[RunHistory] | None = None,
    points: int = GRID_POINTS,
) -> ScoreDiagnostics:
    """The diagnostics of K independent runs: empirical variance ratio, pooled crossing check.

    Args:
        probabilities: The K estimates.
        ntrajectories: N of each run.
        stop_reasons: How each run stopped.
        histories: The K finished runs read back (None: no crossing check).
        points: Levels of the crossing check.
    """
    values = np.asarray(probabilities, dtype=np.float64)
    k = values.size
    if StopReason.WALLTIME in stop_reasons or not np.isfinite(values).all():
        return ScoreDiagnostics(
            available=False, reason="a repeat stopped at its walltime: no estimate", repeats=k
        )
    mean = float(values.mean()) if k else math.nan
    reason = "montecarlo" if stop_reasons and all(r == "montecarlo" for r in stop_reasons) else ""
    missing = _missing(mean, reason)
    if missing:
        return ScoreDiagnostics(available=False, reason=missing, probability=mean, repeats=k)
    optimum = _optimum(mean, ntrajectories)
    variance: dict[str, Any] = {"optimum": optimum}
    if k < 2:
        variance["variance_note"] = "one repeat: no empirical variance"
    else:
        deviation = values - mean
        s2 = float(deviation @ deviation) / (k - 1)
        m4 = float(np.mean(deviation**4))
        # standard error of the sample variance from the fourth moment (any distribution)
        s2_error = math.sqrt(max(m4 - s2 * s2 * (k - 3) / (k - 1), 0.0) / k)
        variance |= {
            "variance_source": "repeats",
            "relative_variance": s2 / mean**2,
            "variance_ratio": s2 / mean**2 / optimum,
            "variance_ratio_error": s2_error / mean**2 / optimum,
        }
        if reason:
            variance |= {
                "variance_source": "",
                "variance_ratio": math.nan,
                "variance_ratio_error": math.nan,
                "variance_note": "Monte Carlo runs: the score plays no part in their variance",
            }
        elif k < 20:
            variance["variance_note"] = f"only {k} repeats: the ratio is rough"
    crossing: dict[str, Any]
    target = math.nan
    if histories is None or not histories:
        crossing = {"crossing_note": "no databases: no crossing check"}
    else:
        target = histories[0].target
        crossing = _repeat_crossings(list(histories), values, points)
    return ScoreDiagnostics(
        available=True,
        probability=mean,
        ntrajectories=ntrajectories,
        target=target,
        repeats=k,
        **variance,
        **crossing,
    )


# ---------------------------------------------------------------------------- internals
def _missing(probability: float, stop_reason: str) -> str:
    """Why a run gives no diagnostics ("" when it gives some)."""
    if stop_reason == StopReason.WALLTIME or not math.isfinite(probability):
        return "the run stopped at its walltime and claims no estimate; resume it first"
    if probability <= 0.0:
        return (
            "p_hat = 0 (extinction: no trajectory reached the target), so there is no "
            "relative variance and no crossing ratio; rerun with more trajectories"
        )
    if probability >= 1.0:
        return (
            "p_hat = 1 (every trajectory reached the target): the event is not rare, no "
            "splitting happened and the score was never used"
        )
    return ""


def _optimum(probability: float, n: int) -> float:
    """p**(-1/N) - 1, the committor's relative variance with k = 1."""
    return math.expm1(-math.log(probability) / n)


def _grid(
    levels: FloatArray, probability: FloatArray, p_hat: float, target: float, m: int
) -> FloatArray:
    """The first level whose P(z) is at or below p_hat**(i/(m+1)), i = 1..m, below the target."""
    chosen: list[float] = []
    for i in range(1, m + 1):
        wanted = p_hat ** (i / (m + 1))
        below = np.nonzero(probability <= wanted)[0]
        if below.size:
            z = float(levels[below[0]])
            if z < target and z > 0.0 and (not chosen or z > chosen[-1]):
                chosen.append(z)
    return np.asarray(chosen, dtype=np.float64)


def _scale_note(history: RunHistory) -> str:
    if history.target <= 0.0:
        return "the target score is not positive: the check needs a score scaled to 0..target"
    return ""


def _summarise(rows: list[CrossingCheck]) -> dict[str, Any]:
    logs = [math.log(c.ratio) for c in rows if c.ratio > 0.0 and math.isfinite(c.ratio)]
    errors = [c.log_error for c in rows if math.isfinite(c.log_error)]
    if not logs:
        return {"crossings": tuple(rows), "crossing_note": "no level between start and target"}
    return {
        "crossings": tuple(rows),
        "crossing_rms": math.sqrt(math.fsum(v * v for v in logs) / len(logs)),
        "crossing_noise": (
            math.sqrt(math.fsum(e * e for e in errors) / len(errors)) if errors else math.nan
        ),
    }


def _single_crossings(history: RunHistory, p_hat: float, points: int) -> dict[str, Any]:
    """The crossing check of one run, with genealogy (delta-method) errors of ln r."""
    note = _scale_note(history)
    if note:
        return {"crossing_note": note}
    curve = history.exceedance_curve()
    grid = _grid(curve.levels, curve.probability, p_hat, history.target, points)
    n = history.n
    final_eve = _eves_at(history, math.inf)[1]
    converged = np.array([t.converged for t in history.final], dtype=bool)
    slots = np.array([t.key.slot for t in history.final], dtype=np.intp)
    counts_target = np.bincount(final_eve[slots[converged]], minlength=n)
    z_target = counts_target * (history.final_weight / n)  # Z_e(target)
    rows = []
    for level in grid:
        weight, eve, q = _eves_at(history, float(level))
        counts = np.bincount(eve[q >= level], minlength=n)
        probability, std_error = genealogy_std_error(weight, counts)
        z_level = counts * (weight / n)
        ratio_q = p_hat / probability  # the implied committor at z
        deviation = z_target - ratio_q * z_level
        log_error = math.sqrt(math.fsum(deviation * deviation)) / probability / ratio_q
        rows.append(
            CrossingCheck(
                level=float(level),
                probability=probability,
                std_error=std_error,
                ratio=float(level) / history.target / ratio_q,
                log_error=log_error,
            )
        )
    return _summarise(rows)


def _eves_at(history: RunHistory, level: float) -> tuple[float, NDArray[np.intp], FloatArray]:
    """(W, ancestor slot, Q) of the ensemble after the iterations whose level is below ``level``.

    The ensemble a run with target ``level`` would have ended with (`RunHistory.
    exceedance_curve` reads the same one); ``math.inf``: the final ensemble.
    """
    n = history.n
    q = np.array([history.max_score(_key(s)) for s in range(n)], dtype=np.float64)
    eve = np.arange(n)
    weight = 1.0
    for record in history.iterations:
        if record.level >= level:
            break
        for killed, parent in zip(record.killed, record.parents, strict=True):
            q[killed.slot] = history.max_score(killed.next_generation())
            eve[killed.slot] = eve[parent.slot]
        weight = record.weight
    return weight, eve, q


def _key(slot: int) -> Any:
    from pytams.core.trajectory import TrajectoryKey

    return TrajectoryKey(slot)


def _repeat_crossings(
    histories: list[RunHistory], values: FloatArray, points: int
) -> dict[str, Any]:
    """The crossing check of K repeats: the mean curve, errors of ln r across the repeats."""
    from pytams.core.curve import combine_curves

    note = _scale_note(histories[0])
    if note:
        return {"crossing_note": note}
    target = histories[0].target
    mean = float(values.mean())
    grid_all = np.unique(np.concatenate([h.default_levels() for h in histories]))
    pooled = combine_curves([h.exceedance_curve(grid_all) for h in histories])
    grid = _grid(pooled.levels, pooled.probability, mean, target, points)
    if not grid.size:
        return {"crossing_note": "no level between start and target"}
    curves = [h.exceedance_curve(grid) for h in histories]
    each = np.vstack([c.probability for c in curves])  # (K, levels)
    combined = combine_curves(curves)
    k = values.size
    rows = []
    for i, level in enumerate(grid):
        p_level = float(combined.probability[i])
        # ln r = ln P(z) - ln p_hat + const: delta method over the K repeats
        terms = each[:, i] / p_level - values / mean
        log_error = float(terms.std(ddof=1)) / math.sqrt(k) if k > 1 else math.nan
        rows.append(
            CrossingCheck(
                level=float(level),
                probability=p_level,
                std_error=float(combined.std_error[i]),
                ratio=float(level) / target * p_level / mean,
                log_error=log_error,
            )
        )
    return _summarise(rows)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
