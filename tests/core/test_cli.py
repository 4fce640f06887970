"""The pytams command: run, --set, --seed, --json, new-model, and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytams.core.cli import main
from tests.core.models import ROOT

EXAMPLE = ROOT / "examples" / "brownian" / "input.toml"
JSON_KEYS = {
    "probability",
    "std_error",
    "ci_low",
    "ci_high",
    "iterations",
    "converged",
    "model_steps",
    "wall_time",
    "stop_reason",
}


def test_run_writes_json_with_the_documented_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    code = main(
        [
            "run",
            str(EXAMPLE),
            "--set",
            "tams.ntrajectories=20",
            "--set",
            "model.barrier=3.0",
            "--seed",
            "4",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result) >= JSON_KEYS
    assert result["seed"] == 4
    assert result["stop_reason"] == "target_reached"
    assert 0.0 < result["probability"] < 1.0
    assert "probability" in capsys.readouterr().out


def test_repeats_json_has_per_repeat_estimates(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    main(
        [
            "run",
            str(EXAMPLE),
            "--set",
            "tams.ntrajectories=10",
            "--set",
            "tams.repeats=3",
            "--set",
            "model.barrier=2.5",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    result = json.loads(out.read_text())
    assert len(result["repeats"]) == 3
    assert set(result["repeats"][0]) >= JSON_KEYS
    mean = sum(r["probability"] for r in result["repeats"]) / 3
    assert result["probability"] == pytest.approx(mean, rel=1e-15)


def test_same_seed_same_json(tmp_path: Path) -> None:
    results = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        main(
            [
                "run",
                str(EXAMPLE),
                "--set",
                "tams.ntrajectories=10",
                "--seed",
                "9",
                "--json",
                str(out),
                "--quiet",
            ]
        )
        data = json.loads(out.read_text())
        del data["wall_time"]
        results.append(data)
    assert results[0] == results[1]


def test_bad_config_exits_2_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(EXAMPLE), "--set", "tams.ntrajectorie=5", "--quiet"])
    assert code == 2
    assert "did you mean 'ntrajectories'" in capsys.readouterr().err


def test_progress_bar_goes_to_stderr(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytams.core.cli",
            "run",
            str(EXAMPLE),
            "--set",
            "tams.ntrajectories=10",
            "--set",
            "model.barrier=2.0",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "iterations" in completed.stderr
    assert "converged=" in completed.stderr
    assert "probability" in completed.stdout


def test_new_model_template_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new-model", "MyModel"]) == 0
    assert (tmp_path / "mymodel.py").exists()
    assert main(["new-model", "MyModel"]) == 2  # never overwrites
    code = main(
        [
            "run",
            str(EXAMPLE),
            "--model",
            "mymodel.py:MyModel",
            "--set",
            "tams.ntrajectories=10",
            "--set",
            "trajectory.target_score=2.0",
            "--quiet",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "r.json").read_text())["probability"] > 0


def test_missing_optional_command_names_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import pytams.io  # noqa: F401
    except ImportError:
        assert main(["inspect", "x"]) == 2
        assert "pip install" in capsys.readouterr().err
    else:
        pytest.skip("pytams-io is installed: 'inspect' is real")
