"""Exploring a database: open_database, the xarray view, ``pytams inspect`` and ``pytams plot``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, Database, MemoryStore, StorageError, TrajectoryKey
from pytams.core.cli import main
from pytams.io import ExploredDatabase, open_database, to_xarray
from tests.io.ou import ou_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "run.tams"
    config = ou_config(path)
    config["trajectory"]["store_state_every"] = 5
    TAMS(None, config).run()
    return path


def test_open_database_gives_the_core_database_read_only(finished: Path) -> None:
    db = open_database(finished)
    assert isinstance(db, Database)
    assert isinstance(db, ExploredDatabase)
    assert db.path == finished
    assert open_database(finished / "tams.nc").path == finished
    with pytest.raises(StorageError, match="read-only"):
        db.append_iteration(db.iterations[0])
    with pytest.raises(StorageError, match="read-only"):
        db.commit_ensemble(db.member_keys or [])


def test_the_xarray_view_holds_the_ensemble_and_the_iteration_table(finished: Path) -> None:
    db = open_database(finished)
    ds = db.to_xarray()
    ensemble = db.ensemble or []
    longest = max(len(t) for t in ensemble)
    assert ds.sizes["trajectory"] == len(ensemble) == 16
    assert ds.sizes["time"] == longest
    assert ds.sizes["iteration"] == len(db.iterations)
    assert list(ds["trajectory"].values) == [str(t.key) for t in ensemble]
    assert ds["time"].values[1] == pytest.approx(0.02)
    for i, trajectory in enumerate(ensemble):
        n = len(trajectory)
        assert ds["score"].values[i, :n].tolist() == trajectory.scores
        assert np.isnan(ds["score"].values[i, n:]).all()  # NaN-padded
        assert ds["model_time"].values[i, :n].tolist() == trajectory.times
        stored = [j for j, s in enumerate(trajectory.states) if s is not None]
        assert stored == list(range(0, n, 5))
        assert ds["state"].values[i, stored].tolist() == [trajectory.states[j] for j in stored]
        assert np.isnan(np.delete(ds["state"].values[i], stored)).all()
        assert bool(ds["converged"].values[i]) == trajectory.converged
    assert ds["level"].values.tolist() == [r.level for r in db.iterations]
    assert ds["weight"].values.tolist() == [r.weight for r in db.iterations]
    first = db.iterations[0]
    assert ds["killed"].values[0, 0] == str(first.killed[0])
    assert ds["parents"].values[0, 0] == str(first.parents[0])
    assert ds.attrs["estimate"] == db.weight * sum(t.converged for t in ensemble) / 16
    everything = db.to_xarray(archived=True, states=False)
    assert everything.sizes["trajectory"] == len(db.stored_keys())
    assert "state" not in everything
    assert int(everything["in_ensemble"].sum()) == 16


def test_to_xarray_of_a_database_in_memory() -> None:
    store = MemoryStore()
    TAMS(None, ou_config(None, max_iterations=4), store=store).run()
    ds = to_xarray(Database(store))
    assert ds.sizes["iteration"] == 4
    assert ds.sizes["trajectory"] == 16


def test_an_unfinished_initial_ensemble_shows_the_stored_trajectories(tmp_path: Path) -> None:
    result = TAMS(None, ou_config(tmp_path / "run.tams", walltime=1e-6)).run()
    assert result.stop_reason == "walltime"
    partial = open_database(tmp_path / "run.tams")
    assert partial.ensemble is None
    assert 1 <= len(partial.stored_keys()) < 16
    assert partial.status().state == "initial ensemble"
    assert math.isnan(partial.status().estimate)
    assert partial.to_xarray().sizes["trajectory"] == len(partial.stored_keys())


def test_inspect_prints_the_state_of_a_run(
    finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(finished)]) == 0
    out = capsys.readouterr().out
    db = open_database(finished)
    status = db.status()
    assert status.state == "finished: target reached"
    for label in (
        "status",
        "iterations",
        "level",
        "weight",
        "converged",
        "estimate",
        "model steps",
        "wall time",
    ):
        assert label in out
    assert f"iterations   {len(db.iterations)}" in out
    assert "converged    16/16" in out
    steps = sum(db.trajectory(k).model_steps for k in db.stored_keys())
    assert f"model steps  {steps}" in out
    assert status.wall_time is not None
    assert status.wall_time >= 0
    assert math.isclose(status.estimate, db.weight)
    assert main(["inspect", str(finished.parent / "nothing")]) == 2
    assert "no such database" in capsys.readouterr().err


def test_plot_writes_pngs(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    assert main(["plot", str(finished), "--output", str(tmp_path / "figures")]) == 0
    for name in ("score.png", "iterations.png"):
        data = (tmp_path / "figures" / name).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert len(data) > 5000
    assert "score.png" in capsys.readouterr().out


def test_keys_of_trajectory_files(finished: Path) -> None:
    db = open_database(finished)
    assert TrajectoryKey(0) in db.stored_keys()
    assert db.has_trajectory(TrajectoryKey(0))


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({}, "target_reached"),
        ({"max_iterations": 7}, "max_iterations"),
        ({"nsplititer": 5}, "max_kills"),  # pyTAMS key, stored as max_kills
        ({"sampler": "montecarlo"}, "montecarlo"),
    ],
)
def test_the_status_and_the_run_stop_by_the_same_rule(
    tmp_path: Path, settings: dict[str, Any], reason: str
) -> None:
    """`run_status` decides with the run's own stop rule: it names the run's stop reason."""
    result = TAMS(None, ou_config(tmp_path / "run.tams", **settings)).run()
    assert result.stop_reason == reason
    state = open_database(tmp_path / "run.tams").status().state
    assert (
        state
        == "finished: "
        + {
            "target_reached": "target reached",
            "max_iterations": "max iterations",
            "max_kills": "max kills",
            "montecarlo": "monte carlo",
        }[reason]
    )
