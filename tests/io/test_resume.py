"""Crash safety and resume: killed (SIGKILL) or walltime-stopped runs finish bit for bit.

Every resumed run must end with the probability, levels, iteration table and final ensemble
of the uninterrupted run with the same seed, and no kill may leave the database unreadable.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, MemoryStore
from pytams.core.cli import main
from pytams.io import open_database
from tests.io.conftest import pytams, pytams_command, write_toml
from tests.io.ou import ou_config

N = 16


def result_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    data.pop("wall_time", None)
    return data


def same_database(path: Path, reference: Path) -> None:
    """Ensemble, iteration table and stored trajectories equal, bit for bit."""
    db, ref = open_database(path), open_database(reference)
    assert db.ensemble == ref.ensemble
    assert db.iterations == ref.iterations
    assert db.metadata is not None
    assert ref.metadata is not None
    for key in ("seed", "model", "format_version"):
        assert db.metadata[key] == ref.metadata[key]
    assert db.stored_keys() == ref.stored_keys()
    archived = {t.key: t for t in ref.archived()}
    assert all(t == archived[t.key] for t in db.archived())


def assert_readable(path: Path) -> None:
    """What a kill leaves can always be opened (or holds nothing at all yet)."""
    if (path / "tams.nc").exists():
        db = open_database(path)
        for key in db.stored_keys():
            db.trajectory(key)
    else:
        assert not list(path.glob("trajectories/*.nc"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The uninterrupted run through the command line, its database and its duration."""
    root = tmp_path_factory.mktemp("reference")
    config = write_toml(root / "input.toml", ou_config(root / "run.tams"))
    started = time.perf_counter()
    done = pytams("run", config, "--quiet", "--json", root / "result.json")
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    result = result_of(root / "result.json")
    assert result["iterations"] > 20
    memory = TAMS(None, ou_config(None), store=MemoryStore()).run()
    assert result["probability"] == memory.probability  # the store changes nothing
    assert tuple(result["levels"]) == memory.levels
    return {"path": root / "run.tams", "result": result, "elapsed": elapsed}


def resume_and_compare(root: Path, reference: dict[str, Any]) -> None:
    config = root / "input.toml"
    done = pytams("run", config, "--resume", "--quiet", "--json", root / "result.json")
    assert done.returncode == 0, done.stderr
    assert result_of(root / "result.json") == reference["result"]
    same_database(root / "run.tams", reference["path"])


@pytest.mark.slow
def test_runs_killed_at_random_moments_resume_to_the_same_result(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    rng = np.random.default_rng(2024)
    iterations = reference["result"]["iterations"]
    # metadata, the initial ensemble, one journal entry (with the last commit) and at least
    # one clone per iteration, the last commit
    writes = 1 + N + 2 * iterations + 1
    phases = ["partial", "unrenamed", "renamed"]
    # kills inside the process at a given write: the first write, the initial ensemble, the
    # first journal entry, and later iterations (journal entries, clones), in every phase
    planned = [(1, "partial"), (int(rng.integers(2, N + 2)), "renamed"), (N + 2, "unrenamed")]
    planned += [(int(rng.integers(N + 3, writes + 1)), phases[i % 3]) for i in range(4)]
    killed = 0
    for case, (kill_at, phase) in enumerate(planned):
        root = tmp_path / f"self-{case}"
        root.mkdir()
        write_toml(root / "input.toml", ou_config(root / "run.tams"))
        done = pytams("run", root / "input.toml", "--quiet", kill_at=kill_at, phase=phase)
        assert done.returncode == -signal.SIGKILL, (kill_at, phase, done.stderr)
        killed += 1
        assert_readable(root / "run.tams")
        if case == len(planned) - 1:  # kill the resumed run too, then resume again
            again = pytams(
                "run", root / "input.toml", "--resume", "--quiet", kill_at=5, phase="unrenamed"
            )
            assert again.returncode == -signal.SIGKILL, again.stderr
            killed += 1
            assert_readable(root / "run.tams")
        resume_and_compare(root, reference)
    # kills from outside at random instants of the run
    for case, delay in enumerate(rng.uniform(0.3, reference["elapsed"], size=6)):
        root = tmp_path / f"signal-{case}"
        root.mkdir()
        write_toml(root / "input.toml", ou_config(root / "run.tams"))
        command = pytams_command("run", root / "input.toml", "--quiet")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(delay))
        process.send_signal(signal.SIGKILL)
        if process.wait() == -signal.SIGKILL:
            killed += 1
        assert_readable(root / "run.tams")
        resume_and_compare(root, reference)
    assert killed >= 10


def test_a_walltime_stopped_run_resumed_gives_the_result_without_walltime(
    tmp_path: Path,
) -> None:
    started = time.perf_counter()
    plain = TAMS(None, ou_config(tmp_path / "plain.tams")).run()
    # a walltime of a fifth of the whole run stops it several times, however fast the machine
    config = ou_config(tmp_path / "run.tams", walltime=(time.perf_counter() - started) / 5)
    stops = 0
    result = TAMS(None, config).run()
    while not result.complete:
        stops += 1
        assert result.stop_reason == "walltime"
        assert_readable(tmp_path / "run.tams")
        config["database"]["resume"] = True
        result = TAMS(None, config).run()
    assert stops >= 2
    assert result == plain
    assert result.levels == plain.levels
    same_database(tmp_path / "run.tams", tmp_path / "plain.tams")
    # and a last resume without the walltime: nothing left to do, the same result
    del config["tams"]["walltime"]
    assert TAMS(None, config).run() == plain


def test_a_killed_initial_ensemble_resumes(tmp_path: Path) -> None:
    """A fast kill case for every run of the suite: during the initial ensemble."""
    plain = TAMS(None, ou_config(None), store=MemoryStore()).run()
    write_toml(tmp_path / "input.toml", ou_config(tmp_path / "run.tams"))
    done = pytams("run", tmp_path / "input.toml", "--quiet", kill_at=6, phase="unrenamed")
    assert done.returncode == -signal.SIGKILL
    db = open_database(tmp_path / "run.tams")
    assert db.ensemble is None
    assert 0 < len(db.stored_keys()) < N
    config = ou_config(tmp_path / "run.tams")
    config["database"]["resume"] = True
    assert TAMS(None, config).run() == plain


def test_an_existing_database_is_resumed_or_overwritten_only_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_toml(tmp_path / "input.toml", ou_config(tmp_path / "run.tams"))
    assert main(["run", str(config), "--quiet"]) == 0
    before = snapshot(tmp_path / "run.tams")
    capsys.readouterr()
    assert main(["run", str(config), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "run.tams") in error
    assert "--resume" in error
    assert "--overwrite" in error
    assert snapshot(tmp_path / "run.tams") == before  # nothing touched
    assert main(["run", str(config), "--quiet", "--seed", "99", "--overwrite"]) == 0
    after = open_database(tmp_path / "run.tams")
    assert after.metadata is not None
    assert after.metadata["seed"] == 99
    assert snapshot(tmp_path / "run.tams")["tams.nc"] != before["tams.nc"]


def test_resume_refuses_a_changed_key_and_accepts_a_new_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capped = ou_config(tmp_path / "run.tams", max_iterations=5)
    config = write_toml(tmp_path / "input.toml", capped)
    assert main(["run", str(config), "--quiet"]) == 0
    before = snapshot(tmp_path / "run.tams")
    capsys.readouterr()
    changed = main(
        ["run", str(config), "--quiet", "--resume", "--set", "trajectory.step_size=0.01"]
    )
    assert changed == 2
    assert "step_size" in capsys.readouterr().err
    assert snapshot(tmp_path / "run.tams") == before
    assert (
        main(["run", str(config), "--quiet", "--resume", "--set", "tams.max_iterations=1000"]) == 0
    )
    plain = TAMS(None, ou_config(None), store=MemoryStore()).run()
    resumed = TAMS(
        None,
        {
            **ou_config(tmp_path / "run.tams"),
            "database": {"path": str(tmp_path / "run.tams"), "resume": True},
        },
    ).run()
    assert resumed == plain


def test_a_database_can_be_read_while_a_run_writes_it(tmp_path: Path) -> None:
    config = ou_config(tmp_path / "run.tams", ntrajectories=24)
    config["model"]["barrier"] = 2.2  # about 120 iterations: long enough to watch
    write_toml(tmp_path / "input.toml", config)
    command = pytams_command("run", tmp_path / "input.toml", "--quiet")
    import xarray as xr

    xr.Dataset({"warm_up": ("x", [1.0])})  # xarray's first Dataset takes ~1 s: not in the run

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = set()
    while process.poll() is None:
        if (tmp_path / "run.tams" / "tams.nc").exists():
            db = open_database(tmp_path / "run.tams")
            seen.add((db.ensemble is not None, len(db.iterations)))
            db.to_xarray()
        time.sleep(0.01)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert len(seen) >= 2  # several states of the run were read while it ran


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("compact_every", [100, 2])
def test_every_state_on_disk_during_a_run_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compact_every: int
) -> None:
    """Exhaustive: copy the database after every file commit; resume each copy.

    A kill at any instant leaves one of these states (plus at most a stray temporary file,
    added to every copy here), so this covers every instant of a small run: its journal files
    (`pytams.io._journal`), and with ``compact_every`` = 2 its compactions of ``tams.nc``
    (a copy right after a compaction holds the journal files it replaces).
    """
    from pytams.io import _files, _journal

    monkeypatch.setattr(_journal, "_MIN_BETWEEN_COMPACTIONS", compact_every)

    config = ou_config(tmp_path / "run.tams", ntrajectories=6, max_iterations=6)
    plain = TAMS(
        None, ou_config(None, ntrajectories=6, max_iterations=6), store=MemoryStore()
    ).run()
    copies: list[Path] = []
    commit = _files.commit
    one_at_a_time = threading.Lock()  # the store's writer thread and the worker both commit

    def copying_commit(tmp: Path, target: Path) -> None:
        with one_at_a_time:
            commit(tmp, target)
            copy = tmp_path / f"state-{len(copies):03d}"
            # another thread's temporary file may vanish meanwhile: a stray one is added below
            shutil.copytree(tmp_path / "run.tams", copy, ignore=shutil.ignore_patterns("*.tmp"))
            (copy / ".tams.nc.1-dead.tmp").write_bytes(b"\x89HDF half a file")
            if (copy / "trajectories").is_dir():  # a worker killed while writing its file
                (copy / "trajectories" / ".000000-00009.nc.1-dead.tmp").write_bytes(b"\x89HDF")
            copies.append(copy)

    monkeypatch.setattr(_files, "commit", copying_commit)
    assert TAMS(None, config).run() == plain
    monkeypatch.setattr(_files, "commit", commit)
    assert len(copies) > 6 + plain.iterations
    for copy in copies:
        assert_readable(copy)
        resumed = TAMS(None, {**config, "database": {"path": str(copy), "resume": True}}).run()
        assert resumed == plain, copy.name
        same_database(copy, tmp_path / "run.tams")
