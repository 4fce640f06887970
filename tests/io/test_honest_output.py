"""Honest output: plot marks an incomplete run, inspect reads repeats, keys as strings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, TrajectoryKey
from pytams.core.cli import main
from pytams.io import open_database
from pytams.io.cli import _return_time_figure
from tests.io.ou import ou_config
from tests.io.test_outcome import interrupt, stop_at

MARK = "not an estimate"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("honest") / "run.tams"
    TAMS(None, ou_config(path, max_iterations=20)).run()
    return path


def interrupted_run(path: Path) -> Path:
    with pytest.raises(KeyboardInterrupt):
        TAMS(None, ou_config(path), progress=stop_at(3, interrupt)).run()
    return path


def walltime_run(path: Path) -> Path:
    result = TAMS(None, ou_config(path, walltime=2.0), progress=stop_at(3, sleep_past)).run()
    assert result.stop_reason == "walltime"
    return path


def sleep_past() -> None:
    time.sleep(2.05)  # past the 2 s walltime: the run stops after this iteration


def title_of_return_times(path: Path) -> str:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = _return_time_figure(open_database(path), plt)
    assert fig is not None
    title: str = fig.axes[0].get_title()
    plt.close(fig)
    return title


# ---------------------------------------------------------------------- plot
@pytest.mark.parametrize(
    ("make", "state"), [(interrupted_run, "interrupted"), (walltime_run, "stopped: walltime")]
)
def test_plot_marks_an_incomplete_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, state: str
) -> None:
    path = make(tmp_path / "run.tams")
    assert f"incomplete run ({state}): {MARK}" in title_of_return_times(path)
    capsys.readouterr()
    assert main(["plot", str(path), "--output", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert "return_time.png" in out
    assert f"incomplete run ({state}): {MARK}" in out


def test_plot_of_a_finished_run_carries_no_mark(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    title = title_of_return_times(finished)
    assert title.startswith("return time")
    assert MARK not in title
    capsys.readouterr()
    assert main(["plot", str(finished), "--output", str(tmp_path)]) == 0
    assert MARK not in capsys.readouterr().out


# ---------------------------------------------------------------------- inspect of repeats
@pytest.fixture(scope="module")
def repeats(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    path = tmp_path_factory.mktemp("repeats") / "run.tams"
    result = TAMS(None, ou_config(path, repeats=3, max_iterations=15)).run()
    return path, result


def test_inspect_of_repeats_shows_each_and_their_summary(
    repeats: tuple[Path, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path, result = repeats
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 repeats stored" in out
    for r, each in enumerate(result.repeats):
        line = next(line for line in out.splitlines() if f"repeat-{r:04d}" in line)
        assert f"{each.probability:.4e}" in line
        assert "finished: max iterations" in line
    assert f"probability   {result.probability:.6g}" in out  # the mean, as `pytams run` says
    assert f"std error {result.std_error:.3g}" in out
    assert "converged     " in out
    assert f"of {3 * 16} (3 repeats x 16)" in out


def test_inspect_json_of_repeats_is_the_summary_of_pytams_run(
    repeats: tuple[Path, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path, result = repeats
    capsys.readouterr()
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["complete"] is True
    assert summary["state"] == "finished"
    assert summary["probability"] == pytest.approx(result.probability, rel=1e-15)
    assert summary["std_error"] == pytest.approx(result.std_error, rel=1e-12)
    assert summary["spread"] == pytest.approx(result.spread, rel=1e-12)
    assert [r["probability"] for r in summary["repeats"]] == [r.probability for r in result.repeats]
    assert [Path(r["path"]).name for r in summary["repeats"]] == [
        "repeat-0000",
        "repeat-0001",
        "repeat-0002",
    ]


def test_inspect_of_interrupted_repeats_claims_no_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.tams"
    with pytest.raises(KeyboardInterrupt):
        TAMS(None, ou_config(path, repeats=3), progress=stop_at(3, interrupt)).run()
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 of 3 repeats stored" in out
    assert f"incomplete run (repeat-0000: interrupted): {MARK}" in out
    assert "probability" not in out
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["complete"] is False
    assert summary["probability"] is None
    assert len(summary["repeats"]) == 1


# ---------------------------------------------------------------------- keys as strings
def test_the_explore_api_takes_keys_as_the_view_shows_them(finished: Path) -> None:
    db = open_database(finished)
    shown = [str(k) for k in db.to_xarray(archived=True, states=False)["trajectory"].values]
    for text in shown[:3] + shown[-3:]:
        key = TrajectoryKey.parse(text)
        assert str(key) == text
        assert db.has_trajectory(text)
        assert db.trajectory(text) == db.trajectory(key)
        assert db.trajectory(text).key == key
    assert db.trajectory("000000-00000").key == TrajectoryKey(0, 0)


def test_a_key_of_the_wrong_type_or_form_is_refused_clearly(finished: Path) -> None:
    db = open_database(finished)
    with pytest.raises(TypeError, match="TrajectoryKey or its string form"):
        db.trajectory(4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a trajectory key"):
        db.trajectory("4")
    with pytest.raises(ValueError, match="<slot>-<generation>"):
        TrajectoryKey.parse("000000-0000x")
