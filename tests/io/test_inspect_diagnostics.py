"""``pytams inspect`` shows the score diagnostics of a finished run (and of repeats)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytams.core.cli import main
from tests.core.models import ROOT

EXAMPLE = ROOT / "examples" / "brownian" / "input.toml"


def _run(path: Path, *settings: str) -> None:
    small = ["tams.ntrajectories=20", "model.barrier=2.5", "trajectory.step_size=0.05"]
    args = ["run", str(EXAMPLE), "--set", f"database.path={path}"]
    for setting in [*small, *settings]:
        args += ["--set", setting]
    assert main(args) == 0


def test_inspect_shows_both_diagnostics_with_their_meaning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path / "db")
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "db")]) == 0
    out = capsys.readouterr().out
    assert "variance ratio" in out
    assert "from genealogy" in out
    assert "crossing check" in out
    assert "0 when the score is the committor" in out


def test_inspect_json_adds_score_diagnostics_and_keeps_the_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path / "db")
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "db"), "--json", "--diagnostics"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"probability", "std_error", "exceedance_curve", "state"} <= set(out)
    # without --diagnostics the JSON keeps exactly its documented keys
    assert main(["inspect", str(tmp_path / "db"), "--json"]) == 0
    assert "score_diagnostics" not in json.loads(capsys.readouterr().out)
    diagnostics = out["score_diagnostics"]
    assert diagnostics["available"] is True
    assert diagnostics["variance"]["source"] == "genealogy"
    assert diagnostics["variance"]["ratio"] > 0.0
    assert diagnostics["crossing"]["rms_log_ratio"] > 0.0
    assert diagnostics["crossing"]["levels"]


def test_inspect_of_repeats_shows_the_repeats_variance_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path / "db", "tams.repeats=4")
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "db")]) == 0
    out = capsys.readouterr().out
    assert "from 4 repeats" in out
    assert main(["inspect", str(tmp_path / "db"), "--json", "--diagnostics"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score_diagnostics"]["variance"]["source"] == "repeats"
    assert data["score_diagnostics"]["variance"]["repeats"] == 4
