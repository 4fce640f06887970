"""The run summary's caveat on the single-run interval at small N (docs/theory.md)."""

from __future__ import annotations

import pytest

from pytams.core import TAMSResult
from pytams.core.result import INTERVAL_CAVEAT_BELOW, MEASURED_COVERAGE
from pytams.core.stop import StopReason


def result(n: int, stop_reason: str = StopReason.ALL_CONVERGED) -> TAMSResult:
    """A finished single run of N trajectories, built by hand."""
    return TAMSResult(
        probability=2e-3,
        std_error=5e-4,
        ci_low=1.2e-3,
        ci_high=3.3e-3,
        iterations=6 * n,
        kills=6 * n,
        levels=(),
        weights=(),
        converged=n,
        ntrajectories=n,
        model_steps=100 * n,
        wall_time=1.0,
        stop_reason=stop_reason,
        seed=1,
    )


def caveats(summary: str) -> list[str]:
    return [line for line in summary.splitlines() if line.startswith("note")]


def test_the_threshold_is_where_the_measured_coverage_reaches_90_percent() -> None:
    sizes = [n for n, _ in MEASURED_COVERAGE]
    assert sizes == sorted(sizes)
    assert all(c < 0.9 for n, c in MEASURED_COVERAGE if n < INTERVAL_CAVEAT_BELOW)
    assert INTERVAL_CAVEAT_BELOW in sizes
    assert dict(MEASURED_COVERAGE)[INTERVAL_CAVEAT_BELOW] >= 0.9


@pytest.mark.parametrize("n", [5, MEASURED_COVERAGE[0][0], INTERVAL_CAVEAT_BELOW - 1])
def test_a_small_run_carries_the_caveat(n: int) -> None:
    (line,) = caveats(result(n).summary())
    measured_n, coverage = max(
        (row for row in MEASURED_COVERAGE if row[0] <= n), default=MEASURED_COVERAGE[0]
    )
    assert f"at N = {measured_n} " in line
    assert f"~{coverage:.0%}" in line
    assert "docs/theory.md" in line
    assert "repeats" in line


@pytest.mark.parametrize("n", [INTERVAL_CAVEAT_BELOW, 1000])
def test_a_large_run_has_no_caveat(n: int) -> None:
    assert caveats(result(n).summary()) == []


def test_repeats_and_monte_carlo_have_no_caveat() -> None:
    n = MEASURED_COVERAGE[0][0]
    runs = [result(n), result(n)]
    assert caveats(TAMSResult.of_repeats(runs, wall_time=2.0).summary()) == []
    assert caveats(result(n, StopReason.MONTECARLO).summary()) == []


def test_the_json_keys_are_unchanged() -> None:
    small, large = result(MEASURED_COVERAGE[0][0]), result(INTERVAL_CAVEAT_BELOW)
    assert small.to_dict().keys() == large.to_dict().keys()
    assert "note" not in small.to_json()
