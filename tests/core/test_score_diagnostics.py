"""Score diagnostics of a finished run: the variance ratio and the level-crossing check.

Brownian motion dX = dW from 0, barrier b, horizon T = 1, has the committor
q(x, t) = 2 (1 - Phi((b - x) / sqrt(T - t))) = erfc((b - x) / sqrt(2 (T - t))) (the continuous
process). `CommittorBrownian` scores with q itself (1 at and above the barrier; at t = T the
indicator), the near-ideal score; the static score x / b of `BatchedBrownian` is a poor one.
The thresholds are set from the spread measured over many seeds (numbers in each docstring),
never by tuning a seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS
from pytams.core.diagnostics import (
    ScoreDiagnostics,
    diagnose_history,
    diagnose_repeats,
    score_diagnostics,
)
from pytams.core.result import TAMSResult
from tests.core.models import BrownianMotion, Scripted


class CommittorBrownian(BrownianMotion):  # type: ignore[misc]
    """Driftless Brownian motion scored by its (continuous-time) committor."""

    def _score(self) -> float:
        if self.x >= self.barrier:
            return 1.0
        remaining = self.horizon - self.time
        if remaining <= 1e-12 * self.horizon:
            return 0.0  # at T: the indicator
        return min(1.0, math.erfc((self.barrier - self.x) / math.sqrt(2.0 * remaining)))


def brownian_config(
    seed: int, *, n: int = 50, barrier: float = 3.0, repeats: int = 1, kills: int = 1
) -> dict[str, Any]:
    return {
        "tams": {
            "ntrajectories": n,
            "seed": seed,
            "repeats": repeats,
            "kills_per_iteration": kills,
        },
        "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
        "model": {"barrier": barrier, "horizon": 1.0},
    }


def _median_headline(model: type[Any], seeds: range) -> float:
    return float(
        np.median(
            [score_diagnostics(TAMS(model, brownian_config(s)).run()).crossing_rms for s in seeds]
        )
    )


def test_crossing_check_tells_the_committor_from_the_static_score() -> None:
    """Headline (RMS of ln z P(z) / p_hat) of single runs, N = 50, b = 3, dt = 0.02.

    Measured over 40 seeds: committor mean 0.24, 95% quantile 0.47, max 0.81 (the noise the
    genealogy predicts is 0.30); static score x / b mean 2.8, min 1.9. The median of 5 seeds
    is held below 0.5 and above 1.5.
    """
    committor = _median_headline(CommittorBrownian, range(100, 105))
    static = _median_headline(BrownianMotion, range(100, 105))
    assert committor < 0.5
    assert static > 1.5


def test_variance_ratio_from_repeats_tells_the_committor_from_the_static_score() -> None:
    """Variance ratio over K = 30 repeats, N = 50, k = 5, b = 3, dt = 0.02.

    Measured (K = 30 or 40, other seeds): committor 0.73 +/- 0.18, 1.17 +/- 0.30 and
    1.83 +/- 0.87 (the distribution of p_hat is skewed: the ratio of 30 repeats is noisy);
    static score 2.8 +/- 0.5, 3.5 +/- 1.3 and 5.3 +/- 3.0. Held: committor below 3, static
    above 1.5 and above the committor's.
    """
    good = score_diagnostics(TAMS(CommittorBrownian, brownian_config(7, repeats=30, kills=5)).run())
    poor = score_diagnostics(TAMS(BrownianMotion, brownian_config(7, repeats=30, kills=5)).run())
    assert good.variance_source == poor.variance_source == "repeats"
    assert good.repeats == 30
    assert good.variance_ratio < 3.0
    assert poor.variance_ratio > 1.5
    assert poor.variance_ratio > good.variance_ratio
    assert poor.crossing_rms > 1.5 > 0.3 > good.crossing_rms


def test_crossing_rows_agree_with_the_exceedance_curve() -> None:
    """The check's P(z) and std_error are the curve's; r(z) = z P(z) / p_hat by definition."""
    result = TAMS(BrownianMotion, brownian_config(3)).run()
    diagnostics = score_diagnostics(result)
    levels = [c.level for c in diagnostics.crossings]
    assert len(levels) >= 5
    assert levels == sorted(levels)
    curve = result.exceedance_curve(levels)
    p_hat = result.probability
    for row, p, se in zip(diagnostics.crossings, curve.probability, curve.std_error, strict=True):
        assert row.probability == pytest.approx(p, rel=1e-12)
        assert row.std_error == pytest.approx(se, rel=1e-12)
        assert row.ratio == pytest.approx(row.level * p / p_hat, rel=1e-12)
        assert row.log_error >= 0.0
        # the grid is geometric in P: every P(z) lies between p_hat and 1
        assert p_hat < p < 1.0
    logs = [math.log(c.ratio) for c in diagnostics.crossings]
    assert diagnostics.crossing_rms == pytest.approx(
        math.sqrt(sum(v * v for v in logs) / len(logs))
    )


def test_variance_ratio_by_hand() -> None:
    """Genealogy source: (std_error / p)**2 over p**(-1/N) - 1."""
    result = TAMS(BrownianMotion, brownian_config(3)).run()
    d = score_diagnostics(result)
    relative = (result.std_error / result.probability) ** 2
    optimum = result.probability ** (-1.0 / 50) - 1.0
    assert d.variance_source == "genealogy"
    assert d.relative_variance == pytest.approx(relative, rel=1e-12)
    assert d.optimum == pytest.approx(optimum, rel=1e-12)
    assert d.variance_ratio == pytest.approx(relative / optimum, rel=1e-12)
    assert math.isnan(d.variance_ratio_error)


def test_repeats_ratio_by_hand() -> None:
    """Repeats source: the sample variance over the squared mean, over the optimum."""
    values = [0.01, 0.02, 0.03, 0.02]
    d = diagnose_repeats(values, ntrajectories=10)
    mean = 0.02
    s2 = (0.01**2 + 0 + 0.01**2 + 0) / 3
    assert d.variance_source == "repeats"
    assert d.relative_variance == pytest.approx(s2 / mean**2)
    assert d.variance_ratio == pytest.approx(s2 / mean**2 / math.expm1(-math.log(mean) / 10))
    assert "only 4 repeats" in d.variance_note
    assert "no databases" in d.crossing_note


def test_extinction_gives_no_diagnostics() -> None:
    """Scripted never reaches 0.9: extinction, p_hat = 0, and the reason is said."""
    config = {
        "tams": {"ntrajectories": 4, "seed": 1},
        "trajectory": {"end_time": 1.0, "step_size": 0.25, "target_score": 0.9},
        "model": {"script": [0.0, 0.1, 0.2, 0.3, 0.4]},
    }
    result = TAMS(Scripted, config).run()
    d = score_diagnostics(result)
    assert result.probability == 0.0
    assert not d.available
    assert "extinction" in d.reason
    assert d.to_dict()["variance"]["ratio"] is None
    assert "extinction" in str(d)


@pytest.mark.parametrize(
    ("probability", "stop_reason", "words"),
    [
        (0.0, "extinction", "extinction"),
        (1.0, "all_converged", "not rare"),
        (math.nan, "walltime", "walltime"),
    ],
)
def test_edge_cases_say_why(probability: float, stop_reason: str, words: str) -> None:
    d = diagnose_history(
        None, probability=probability, std_error=0.0, ntrajectories=10, stop_reason=stop_reason
    )
    assert not d.available
    assert words in d.reason
    assert d.lines() == [f"score diagnostics: none ({d.reason})"]


def test_montecarlo_run_has_the_crossing_check_but_no_variance_ratio() -> None:
    config = brownian_config(5, n=400, barrier=1.5)
    config["tams"]["sampler"] = "montecarlo"
    result = TAMS(CommittorBrownian, config).run()
    d = score_diagnostics(result)
    assert d.available
    assert math.isnan(d.variance_ratio)
    assert "Monte Carlo" in d.variance_note
    assert d.crossings
    assert d.crossing_rms < 0.5  # the committor: near 0 (measured 0.1)


def test_result_without_database_has_no_crossing_check() -> None:
    config = brownian_config(5)
    result = TAMS(BrownianMotion, config).run()
    bare = TAMSResult(
        **{
            name: getattr(result, name)
            for name in TAMSResult.__dataclass_fields__
            if name not in {"database", "_cache"}
        }
    )
    d = score_diagnostics(bare)
    assert d.available
    assert math.isfinite(d.variance_ratio)
    assert not d.crossings
    assert "no database" in d.crossing_note


def test_to_dict_is_json_ready() -> None:
    import json

    d = score_diagnostics(TAMS(CommittorBrownian, brownian_config(2)).run())
    out = json.loads(json.dumps(d.to_dict()))
    assert out["available"] is True
    assert out["variance"]["source"] == "genealogy"
    assert set(out["crossing"]) >= {"rms_log_ratio", "noise", "levels", "meaning"}
    assert isinstance(ScoreDiagnostics(available=False).to_dict()["crossing"]["levels"], list)
