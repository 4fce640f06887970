"""The curve, crossings and samplers over a database on disk (pytams-io's netCDF store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS
from pytams.core.cli import main
from pytams.core.curve import RunHistory

pytest.importorskip("pytams.io")
from pytams.io import open_database


def write_toml(path: Path, config: dict[str, Any]) -> Path:
    lines = []
    for section, table in config.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def config(path: Path, **tams: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": 20, "seed": 3, "diagnostic_levels": [0.3, 0.6], **tams},
        "trajectory": {"end_time": 1.0, "step_size": 0.05, "target_score": 1.0},
        "database": {"path": str(path)},
        "model": {"class": "pytams.models:OrnsteinUhlenbeck", "dim": 1, "barrier": 2.0},
    }


@pytest.mark.parametrize("sampler", ["tams", "montecarlo"])
def test_curve_and_crossings_from_a_database_opened_from_disk(tmp_path: Path, sampler: str) -> None:
    result = TAMS(None, config(tmp_path / "run", sampler=sampler)).run()
    db = open_database(tmp_path / "run")
    mine, theirs = result.exceedance_curve(), RunHistory(db).exceedance_curve()
    for a, b in zip(mine, theirs, strict=True):
        assert np.array_equal(a, b)
    stored = (db.metadata or {})["diagnostics"]["levels"]
    assert stored == [c.to_dict() for c in result.level_crossings([0.3, 0.6])]


@pytest.mark.slow
def test_inspect_shows_the_crossings_and_plot_draws_return_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = write_toml(tmp_path / "input.toml", config(tmp_path / "run"))
    out = tmp_path / "r.json"
    assert main(["run", str(toml), "--json", str(out), "--quiet"]) == 0
    curve = json.loads(out.read_text())["exceedance_curve"]
    assert curve["levels"] == sorted(curve["levels"])
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "run")]) == 0
    text = capsys.readouterr().out
    assert "level crossings" in text
    assert "0.3" in text
    assert "0.6" in text
    pytest.importorskip("matplotlib")
    assert main(["plot", str(tmp_path / "run"), "--output", str(tmp_path / "png")]) == 0
    assert (tmp_path / "png" / "return_time.png").stat().st_size > 1000
