"""pyTAMS models that keep their state in files run to the right answer, unchanged.

The model files and the input file here are written in the manner of pyTAMS's examples (its
API, its keys, its on-disk state pattern: state files in the segment's working directory,
paths relative to the database ``workdir.parents[1]``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, TAMSResult, load_config
from pytams.core.cli import main

HERE = Path(__file__).parent
DISK = f"{HERE / 'ou_disk.py'}:OUDisk"
MEMORY = f"{HERE / 'ou_memory.py'}:OUMemory"
EULER_P = 4.793415237797798e-3  # pytams.models.reference.euler_chain_probability


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The input file in a fresh folder, which is also the working directory."""
    shutil.copy(HERE / "input_disk.toml", tmp_path / "input.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(case: Path, model: str, *overrides: str, seed: int = 3) -> TAMSResult:
    config = load_config(case / "input.toml", overrides=overrides, seed=seed)
    return TAMS(model, config).run()


def same_run(a: TAMSResult, b: TAMSResult) -> None:
    assert a.probability == b.probability
    assert a.levels == b.levels
    assert a.weights == b.weights
    assert a.converged == b.converged


def test_on_disk_equals_in_memory_bit_for_bit(case: Path) -> None:
    """The disk model and its in-memory twin draw the same noise: the same run, exactly.

    Every segment must have a working directory of its own: with one shared directory the
    state files of different trajectories overwrite each other and the runs differ.
    """
    memory = run(case, MEMORY, "database.path=memory.tdb")
    disk = run(case, DISK)
    same_run(disk, memory)
    assert 0 < disk.probability < 0.05
    assert disk.iterations > 50


def test_state_files_are_where_the_database_says(case: Path) -> None:
    """Every stored state is a path relative to the database; its file holds that state."""
    from pytams.io import open_database

    result = run(case, DISK, "tams.max_iterations=40")
    db = open_database(case / "ou.tdb")
    root = case / "ou.tdb"
    assert (root / "trajectories" / "traj000000_0000" / "init_state.npy").is_file()
    checked = 0
    for key in db.stored_keys():
        trajectory = db.trajectory(key)
        kept = [i for i, state in enumerate(trajectory.states) if state is not None]
        assert kept == list(range(0, len(trajectory), 10))  # sparse_freq = 10
        for index, state in enumerate(trajectory.states):
            if state is None:
                continue
            assert isinstance(state, str)
            assert not Path(state).is_absolute()
            x = np.load(root / state)
            assert x[0] / 2.0 == pytest.approx(trajectory.scores[index], rel=0, abs=1e-12)
            checked += 1
    assert checked > 500
    assert result.iterations == 40


def test_in_memory_run_uses_a_temporary_database_directory(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without [database] path the segments work in a temporary directory, removed at the end."""
    scratch = case / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    memory = run(case, MEMORY, "database.path=memory.tdb")
    config = load_config(case / "input.toml", seed=3)
    config = type(config)(**{**_fields(config), "database": type(config.database)()})
    seen: list[list[Path]] = []

    def progress(event: Any) -> None:
        if event.phase == "initial" and event.done == 1:
            seen.append(list(scratch.glob("pytams-run-*/repeat-0000/trajectories/traj*")))

    disk = TAMS(DISK, config, progress=progress).run()
    same_run(disk, memory)
    assert seen, "no progress report"
    assert seen[0], "the segments' working directories were not in the scratch folder"
    assert list(scratch.iterdir()) == []  # removed at the end
    assert not (case / "trajectories").exists()  # nothing in the working directory


def _fields(config: Any) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def test_asyncio_workers_give_the_serial_result(case: Path) -> None:
    """Workers in other processes create the working directories they need."""
    pytest.importorskip("pytams.runners")
    serial = run(case, DISK, "database.path=serial.tdb")
    parallel = run(
        case, DISK, "database.path=asyncio.tdb", 'runner.type="asyncio"', "runner.nworker_init=2"
    )
    same_run(parallel, serial)


def test_a_pytams_input_resumes_its_database_and_finishes_as_uninterrupted(case: Path) -> None:
    """pyTAMS loads an existing database: a second `pytams run` continues the first."""
    whole = run(case, DISK, "database.path=whole.tdb")
    argv = ["run", "input.toml", "--model", DISK, "--seed", "3", "--quiet"]
    assert main([*argv, "--set", "tams.max_iterations=30"]) == 0
    assert main([*argv, "--json", "result.json"]) == 0  # no --resume: pyTAMS's behaviour
    resumed = json.loads((case / "result.json").read_text())
    assert resumed["probability"] == whole.probability
    assert resumed["iterations"] == whole.iterations


def test_restart_moves_the_old_database_aside(case: Path) -> None:
    first = run(case, DISK, "tams.max_iterations=5")
    second = run(case, DISK, "database.restart=true", "tams.max_iterations=5")
    assert (case / "ou.tdb_000001" / "tams.nc").is_file()
    assert (case / "ou.tdb" / "tams.nc").is_file()
    same_run(second, first)  # a fresh run, not a resumed one
    run(case, DISK, "database.restart=true", "tams.max_iterations=5")
    assert (case / "ou.tdb_000002").is_dir()


@pytest.mark.slow
def test_disk_model_estimate_matches_the_exact_probability(case: Path) -> None:
    """K = 20 runs through `pytams run` (N = 30, in memory: the state files go to a temporary
    database directory): their mean within 3 standard errors of the Euler chain's exact
    probability.

    Measured: the per-run relative standard deviation is about 0.46, so the standard error of
    the mean is about 10% of p and the smallest bias this test detects (3 standard errors) is
    about 31%. It is there for gross errors of the on-disk path (a run that ends in extinction
    on clobbered state files, as before each segment had its own working directory, gives
    p = 0); the bit-for-bit test against the in-memory twin catches anything subtler.
    """
    text = (case / "input.toml").read_text().replace('[database]\npath = "ou.tdb"\n', "")
    assert "[database]" not in text
    (case / "memory.toml").write_text(text)
    out = case / "result.json"
    argv = ["run", "memory.toml", "--model", DISK, "--seed", "11", "--quiet", "--json", str(out)]
    assert main([*argv, "--set", "tams.repeats=20", "--set", "trajectory.sparse_freq=20"]) == 0
    result = json.loads(out.read_text())
    mean, std_error = result["probability"], result["std_error"]
    z = (mean - EULER_P) / std_error
    print(
        f"disk model: {mean:.4e} +- {std_error:.1e} over 20 runs; exact {EULER_P:.4e}; z {z:+.2f}"
    )
    assert abs(z) < 3.0
    assert std_error / EULER_P < 0.15
    assert not (case / "trajectories").exists()
