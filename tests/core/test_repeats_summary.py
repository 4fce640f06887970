"""The run summary of K repeats counts the converged trajectories out of K x N."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytams.core import TAMSResult
from pytams.core.cli import main
from tests.core.models import ROOT

EXAMPLE = ROOT / "examples" / "brownian" / "input.toml"


def _one(converged: int, probability: float) -> TAMSResult:
    return TAMSResult(
        probability=probability,
        std_error=0.01,
        ci_low=0.0,
        ci_high=1.0,
        iterations=3,
        kills=3,
        levels=(0.1, 0.2, 0.3),
        weights=(0.9, 0.8, 0.7),
        converged=converged,
        ntrajectories=100,
        model_steps=1000,
        wall_time=1.0,
        stop_reason="target_reached",
        seed=1,
    )


def test_the_summary_of_repeats_counts_out_of_all_their_trajectories() -> None:
    repeats = [_one(100, 0.1 + 0.01 * i) for i in range(5)]
    summary = TAMSResult.of_repeats(repeats, wall_time=5.0).summary()
    assert "converged     500 of 500 (5 repeats x 100)" in summary
    assert "500 of 100" not in summary


def test_the_summary_of_one_run_counts_out_of_n() -> None:
    assert "converged     40 of 100\n" in _one(40, 0.1).summary()


def test_pytams_run_with_repeats_prints_the_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ["tams.ntrajectories=10", "tams.repeats=3", "model.barrier=2.5"]
    args = ["run", str(EXAMPLE), "--seed", "3"]
    for setting in settings:
        args += ["--set", setting]
    assert main(args) == 0
    line = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("converged")
    )
    assert line.endswith("of 30 (3 repeats x 10)")
