"""pyTAMS 1.0.0 driver scripts and post-processing (pytams.tams, pytams.database) run unchanged.

The model, the input file and the driver script are written in the manner of pyTAMS's
examples: ``from pytams.tams import TAMS``, ``TAMS(fmodel_t=..., a_args=["-i", ...])``,
``compute_probability()``, ``get_database()`` and its trajectories' accessors.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import pytams.core
from pytams.core import ConfigError, MissingComponentError, TAMSResult, TrajectoryKey
from pytams.core.loading import load_model_class
from pytams.database import Database
from pytams.tams import TAMS
from tests.core.test_pytams_compat import PYTAMS_MODEL

MODEL = PYTAMS_MODEL  # a 2-D double well, written as pyTAMS's examples write models

INPUT = textwrap.dedent("""
    [tams]
    ntrajectories = 20
    nsplititer = 400
    walltime = 600.0
    seed = 11
    loglevel = "WARNING"
    {tams_extra}

    [trajectory]
    end_time = 3.0
    step_size = 0.02
    targetscore = 0.8
    sparse_freq = 3

    [runner]
    type = "serial"
    nworker_init = 1
    nworker_iter = 1

    [model]
    epsilon = 0.1
    {database}
""")

DRIVER = textwrap.dedent("""
    import numpy as np
    from pytams.tams import TAMS
    from doublewell import DoubleWellModel

    if __name__ == "__main__":
        tams = TAMS(fmodel_t=DoubleWellModel, a_args=["-i", "input.toml"])
        probability = tams.compute_probability()
        print(f"Transition probability: {probability!r}")

        tdb = tams.get_database()
        for t in tdb.traj_list():
            x = np.array([s[1][0] for s in t.get_state_list()])
            assert x.size > 0
            assert t.score_max() >= 0.0
        print(f"Trajectories: {len(tdb.traj_list())}")
""")


def write_case(
    folder: Path, name: str = "input.toml", *, tams_extra: str = "", db: str | None = None
) -> Path:
    """The model file and an input file in ``folder``; return the input file."""
    (folder / "doublewell.py").write_text(MODEL)
    database = "" if db is None else f'\n[database]\npath = "{db}"\n'
    path = folder / name
    path.write_text(INPUT.format(tams_extra=tams_extra, database=database))
    return path


def engine_run(config: Path) -> TAMSResult:
    """The same input run by the pytams engine directly."""
    model = load_model_class(f"{config.parent / 'doublewell.py'}:DoubleWellModel")
    return pytams.core.TAMS(model, config).run()


def model_class(folder: Path) -> type:
    """The model class of the model file in ``folder``."""
    return load_model_class(f"{folder / 'doublewell.py'}:DoubleWellModel")


# ---------------------------------------------------------------------- pytams.tams


def test_driver_script_gives_the_engines_probability(tmp_path: Path) -> None:
    config = write_case(tmp_path)
    (tmp_path / "driver.py").write_text(DRIVER)
    completed = subprocess.run(
        [sys.executable, "driver.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = dict(line.split(": ", 1) for line in completed.stdout.splitlines())
    expected = engine_run(config)
    assert 0.0 < expected.probability < 1.0
    assert float(lines["Transition probability"]) == expected.probability
    assert lines["Trajectories"] == "20"


def test_the_adapter_returns_the_engines_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_case(tmp_path)
    monkeypatch.chdir(tmp_path)
    tams = TAMS(fmodel_t=model_class(tmp_path), a_args=["-i", str(config)])
    assert tams.n_traj() == 20
    assert 0.0 < tams.remaining_walltime() <= 600.0
    assert not tams.out_of_time()
    probability = tams.compute_probability()
    assert tams.result is not None
    assert probability == tams.result.probability == engine_run(config).probability
    assert tams.elapsed_time() > 0.0
    assert tams.get_database().get_transition_probability() == probability


def test_default_input_file_and_missing_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        TAMS(fmodel_t=object, a_args=["-i", "missing.toml"])
    with pytest.raises(ConfigError, match=r"input\.toml"):
        TAMS(fmodel_t=object, a_args=[])
    write_case(tmp_path)
    tams = TAMS(fmodel_t=model_class(tmp_path), a_args=[])  # pyTAMS's default: input.toml
    with pytest.raises(RuntimeError, match="compute_probability"):
        tams.get_database()


def test_init_ensemble_only_then_resume_equals_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pytams.io")
    monkeypatch.chdir(tmp_path)
    first = write_case(tmp_path, "first.toml", tams_extra="init_ensemble_only = true", db="run")
    model = model_class(tmp_path)
    tams = TAMS(fmodel_t=model, a_args=["-i", str(first)])
    assert tams.compute_probability() == -1.0
    assert tams.result is not None
    assert tams.result.iterations == 0
    assert len(tams.get_database().traj_list()) == 20

    second = write_case(tmp_path, "second.toml", db="run")  # a pyTAMS input: resumes
    resumed = TAMS(fmodel_t=model, a_args=["-i", str(second)])
    probability = resumed.compute_probability()

    whole = engine_run(write_case(tmp_path, "whole.toml", db="whole"))
    assert probability == whole.probability
    assert resumed.result is not None
    assert resumed.result.levels == whole.levels
    assert 0.0 < probability < 1.0


# ---------------------------------------------------------------------- pytams.database


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TAMSResult]:
    """A finished run kept on disk: its database directory and its result."""
    pytest.importorskip("pytams.io")
    folder = tmp_path_factory.mktemp("finished")
    config = write_case(folder, db=str(folder / "run.tams"))
    result = engine_run(config)
    assert result.stop_reason == "target_reached"
    assert result.iterations > 3
    return folder / "run.tams", result


def test_load_reads_the_finished_run(finished: tuple[Path, TAMSResult]) -> None:
    path, result = finished
    tdb = Database.load(path)
    tdb.load_data(load_archived_trajectories=True)
    assert result.database is not None
    ensemble = result.database.ensemble
    assert ensemble is not None
    trajectories = tdb.traj_list()
    assert len(trajectories) == tdb.n_traj() == 20
    assert [t.score_max() for t in trajectories] == [t.max_score for t in ensemble]
    assert [t.is_converged() for t in trajectories] == [t.converged for t in ensemble]
    assert tdb.k_split() == result.iterations
    assert tdb.weights()[0] == 1.0
    assert tdb.weights()[-1] == result.weights[-1]
    assert tdb.biases() == [len(r.killed) for r in result.database.iterations]
    assert tdb.get_transition_probability() == result.probability
    assert len(tdb.archived_trajectories()) == len(tdb.archived_traj_list()) == result.kills
    assert tdb.name() == str(path)
    assert "transition probability" in tdb.info()


def test_active_at_k_rebuilds_each_iterations_ensemble(finished: tuple[Path, TAMSResult]) -> None:
    path, result = finished
    tdb = Database.load(path)
    initial = tdb.get_trajectory_active_at_k(0)
    assert [t.trajectory.key for t in initial] == [TrajectoryKey(s) for s in range(20)]
    for k, level in enumerate(result.levels):
        maxima = sorted(t.score_max() for t in tdb.get_trajectory_active_at_k(k))
        assert maxima[0] == level  # the level of iteration k is the ensemble's lowest maximum
    now = tdb.get_trajectory_active_at_k(tdb.k_split())
    assert [t.idstr() for t in now] == [t.idstr() for t in tdb.traj_list()]
    with pytest.raises(ValueError, match="iteration"):
        tdb.get_trajectory_active_at_k(tdb.k_split() + 1)


def test_trajectory_accessors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_case(tmp_path)
    monkeypatch.chdir(tmp_path)
    tams = TAMS(fmodel_t=model_class(tmp_path), a_args=["-i", str(config)])
    tams.compute_probability()
    tdb = tams.get_database()
    assert tdb.name() == "in-memory"
    for t in tdb.traj_list() + tdb.archived_trajectories():
        inner = t.trajectory
        assert t.id() == inner.key.slot
        assert t.idstr() == f"traj{inner.key.slot:06}_{inner.key.generation:04}"
        assert t.get_nbranching() == inner.key.generation
        assert t.get_length() == len(inner) == t.get_time_array().size
        assert t.current_time() == t.get_time_array()[-1]
        assert t.score_max() == t.get_score_array().max()
        assert t.get_noise_array().shape == (t.get_length(), 2)
        assert t.get_computed_steps_count() == inner.model_steps
        states = t.get_state_list()
        assert [i for i, _ in states] == [i for i, s in enumerate(inner.states) if s is not None]
        assert all(i % 3 == 0 for i, _ in states)  # sparse_freq = 3
        x = np.array([s[1][0] for s in states])  # as pyTAMS's tutorial reads them
        assert x.shape == (len(states),)
        np.testing.assert_array_equal(t.get_last_state(), states[-1][1])
    converged = sum(t.is_converged() for t in tdb.traj_list())
    assert tdb.get_transition_probability() == tdb.weights()[-1] * converged / 20


def test_plots_write_png_files(finished: tuple[Path, TAMSResult], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    tdb = Database.load(finished[0])
    scores, span = tmp_path / "scores.png", tmp_path / "minmax.png"
    tdb.plot_score_functions(str(scores))
    tdb.plot_min_max_span(str(span))
    for image in (scores, span):
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_pytams_io_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pytams.io", None)
    with pytest.raises(MissingComponentError, match="pip install pytams-io"):
        Database.load(tmp_path)


def test_walltime_stop_returns_minus_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_case(tmp_path)
    config.write_text(config.read_text().replace("walltime = 600.0", "walltime = 1e-9"))
    monkeypatch.chdir(tmp_path)
    tams = TAMS(fmodel_t=model_class(tmp_path), a_args=["-i", str(config)])
    assert tams.compute_probability() == -1.0
    assert tams.result is not None
    assert not tams.result.complete
    assert tams.out_of_time()
    assert tams.remaining_walltime() < 0.0
