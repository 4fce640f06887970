"""Damaged or foreign databases: a clear error naming the file and the fix; good data untouched."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import pytest

from pytams.core import TAMS, DatabaseCorruptError, StorageError, TrajectoryKey
from pytams.core.cli import main
from pytams.io import NetCDFStore, open_database
from tests.io.conftest import write_toml
from tests.io.ou import HERE, ou_config


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file of the database but the lock (which names the last writer process)."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in path.rglob("*")
        if p.is_file() and p.name != ".pytams.lock"
    }


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A short finished run (3 iterations) and its input file."""
    config = ou_config(tmp_path / "run.tams", max_iterations=3)
    TAMS(None, config).run()
    write_toml(tmp_path / "input.toml", config)
    return tmp_path / "run.tams"


def resume_fails(database: Path, capsys: pytest.CaptureFixture[str], flag: str = "--resume") -> str:
    """``pytams run --resume`` exits with status 2; nothing in the database changes."""
    before = snapshot(database)
    capsys.readouterr()
    status = main(["run", str(database.parent / "input.toml"), "--quiet", flag])
    assert status == 2
    assert snapshot(database) == before
    return capsys.readouterr().err


def truncate(path: Path, keep: float | int) -> None:
    data = path.read_bytes()
    size = int(len(data) * keep) if isinstance(keep, float) else len(data) - keep
    path.write_bytes(data[:size])


@pytest.mark.parametrize("keep", [0.5, 8], ids=["half", "last-bytes"])
def test_a_truncated_main_file(
    database: Path, keep: float | int, capsys: pytest.CaptureFixture[str]
) -> None:
    truncate(database / "tams.nc", keep)
    with pytest.raises(DatabaseCorruptError, match=r"tams\.nc.*(damaged|truncated)") as info:
        open_database(database)
    assert "backup" in str(info.value)
    error = resume_fails(database, capsys)
    assert str(database / "tams.nc") in error
    assert str(database / "tams.nc") in resume_fails(database, capsys, "--overwrite")


@pytest.mark.parametrize("keep", [0.6, 8], ids=["part", "last-bytes"])
def test_a_truncated_trajectory_file(
    database: Path, keep: float | int, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_database(database)
    assert db.ensemble is not None
    victim = NetCDFStore(database).trajectory_file(db.ensemble[3].key)
    truncate(victim, keep)
    with pytest.raises(DatabaseCorruptError, match="damaged") as info:
        open_database(database)
    assert str(victim) in str(info.value)
    assert "committed ensemble" in str(info.value)
    assert str(victim) in resume_fails(database, capsys)
    assert str(victim) in resume_fails(database, capsys, "--overwrite")  # never deleted


def test_a_missing_trajectory_file(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = open_database(database)
    assert db.ensemble is not None
    victim = NetCDFStore(database).trajectory_file(db.ensemble[0].key)
    victim.unlink()
    with pytest.raises(DatabaseCorruptError, match="missing") as info:
        open_database(database)
    assert str(victim) in str(info.value)
    assert str(victim) in resume_fails(database, capsys)


def test_a_trajectory_file_that_holds_another_trajectory(database: Path) -> None:
    store = NetCDFStore(database)
    source = store.trajectory_file(TrajectoryKey(1))
    (source.parent / "000002-00000.nc").write_bytes(source.read_bytes())
    with pytest.raises(DatabaseCorruptError, match="holds trajectory 000001-00000"):
        store.read_trajectory(TrajectoryKey(2))


def test_a_database_of_another_model(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = f"{HERE / 'ou.py'}:OtherModel"
    write_toml(database.parent / "input.toml", ou_config(database, max_iterations=3, model=other))
    error = resume_fails(database, capsys)
    assert "OrnsteinUhlenbeck" in error
    assert "OtherModel" in error
    assert str(database) in error
    with pytest.raises(StorageError, match="model"):
        TAMS(
            None,
            {
                **ou_config(database, model=other),
                "database": {"path": str(database), "resume": True},
            },
        ).run()


def test_an_incompatible_format_version(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with netCDF4.Dataset(database / "tams.nc", "a") as ds:
        ds.pytams_format_version = 99
    with pytest.raises(DatabaseCorruptError, match="format version 99") as info:
        open_database(database)
    assert str(database / "tams.nc") in str(info.value)
    assert "newer pytams-io" in str(info.value)
    assert "format version 99" in resume_fails(database, capsys)
    # not even --overwrite replaces a database this pytams-io cannot read
    assert "format version 99" in resume_fails(database, capsys, "--overwrite")


def test_a_directory_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    config = write_toml(tmp_path / "input.toml", ou_config(folder))
    for extra in ([], ["--overwrite"]):
        capsys.readouterr()
        assert main(["run", str(config), "--quiet", *extra]) == 2
        assert "not a pytams database" in capsys.readouterr().err
    assert snapshot(folder) == {"thesis.tex": b"precious"}
    with pytest.raises(StorageError, match="not a pytams database"):
        open_database(tmp_path)
    with pytest.raises(StorageError, match="no such database"):
        open_database(tmp_path / "absent.tams")


def test_a_netcdf_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "run.tams").mkdir()
    with netCDF4.Dataset(tmp_path / "run.tams" / "tams.nc", "w") as ds:
        ds.title = "someone else's data"
    with pytest.raises(StorageError, match="not a pytams database"):
        NetCDFStore(tmp_path / "run.tams")


def test_a_file_instead_of_a_directory(tmp_path: Path) -> None:
    (tmp_path / "run.tams").write_text("x")
    with pytest.raises(StorageError, match="is a file"):
        NetCDFStore(tmp_path / "run.tams")


def test_trajectory_files_without_a_main_file(database: Path) -> None:
    (database / "tams.nc").unlink()
    with pytest.raises(DatabaseCorruptError, match=r"no tams\.nc"):
        TAMS(None, ou_config(database)).run()
    assert list((database / "trajectories").iterdir())  # nothing deleted
