"""Workers store their own trajectory files; only summaries travel to the driver (issue 14).

With a store that offers ``worker_files`` (the netCDF store), a clone's task names only its
parent and the level, the worker reads the parent from the database and writes the whole
trajectory, and the driver receives a `StoredTrajectory`: the same result as a run whose
trajectories travel through the driver, on every runner.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import netCDF4
import pytest

from pytams.core import TAMS, MemoryStore, RunContext, SegmentResult, SegmentTask, SerialRunner
from pytams.core.errors import StorageError
from pytams.core.trajectory import Trajectory, TrajectoryKey, _same
from pytams.io import NetCDFStore, open_database
from pytams.io._worker_files import WorkerFiles
from pytams.runners import AsyncioRunner, DaskRunner
from tests.io.ou import HERE, ou_config

DYING = f"{HERE / 'dying_writer.py'}:OrnsteinUhlenbeck"


class Recording:
    """A runner that records what crosses between the driver and another runner."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.contexts: list[RunContext] = []
        self.sent: list[SegmentTask] = []
        self.received: list[SegmentResult] = []

    def __enter__(self) -> Recording:
        self.inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.inner.__exit__(exc_type, exc, traceback)

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        self.contexts.append(context)
        self.sent.extend(tasks)
        results = self.inner.run(context, tasks)
        try:
            for result in results:
                self.received.append(result)
                yield result
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()


def small(path: Path | None, **extra: Any) -> dict[str, Any]:
    config = ou_config(path, ntrajectories=12, max_iterations=25)
    config["tams"]["kills_per_iteration"] = 2
    return {**config, **extra}


@pytest.fixture(scope="module")
def in_memory() -> Any:
    """The reference: trajectories travel through the driver into a memory store."""
    return TAMS(None, small(None), store=MemoryStore()).run()


@pytest.mark.parametrize("kind", ["serial", "asyncio", "dask"])
def test_workers_store_trajectories_and_the_driver_receives_no_states(
    tmp_path: Path, kind: str, in_memory: Any
) -> None:
    runner = {
        "serial": lambda: SerialRunner(),
        "asyncio": lambda: AsyncioRunner(workers=2),
        "dask": lambda: DaskRunner(workers=2),
    }[kind]()
    recording = Recording(runner)
    result = TAMS(None, small(tmp_path / "run.tams"), runner=recording).run()
    assert result == in_memory
    assert result.iterations >= 10
    assert all(isinstance(c.files, WorkerFiles) for c in recording.contexts)
    clones = [task for task in recording.sent if task.parent is not None]
    assert len(clones) == result.kills >= 2 * result.iterations
    assert all(task.start is None and task.replay == () for task in clones)  # keys only
    assert len(recording.received) == 12 + len(clones)
    for received in recording.received:
        assert received.stored is not None
        assert received.stored.key == received.task.key
        assert received.task.start is None
        assert received.states == received.scores == received.times == []
    # the files the workers wrote are the database, whole: every trajectory, bit for bit
    db = open_database(tmp_path / "run.tams")
    reference = in_memory.database
    assert db.stored_keys() == reference.stored_keys()
    for key in reference.stored_keys():
        assert db.trajectory(key) == reference.trajectory(key)
    assert stored_snapshots(tmp_path / "run.tams") == computed_snapshots(reference)


BIG = f"{HERE / 'big_state.py'}:BigStateOU"


def sparse_states(path: Path | None) -> dict[str, Any]:
    """16 KB states kept every third step: a clone restarts from one and replays."""
    config: dict[str, Any] = {
        "model": {"size": 2_000},
        "tams": {"ntrajectories": 12, "kills_per_iteration": 2, "seed": 3, "max_iterations": 25},
        "trajectory": {
            "end_time": 1.0,
            "step_size": 0.02,
            "target_score": 1.0,
            "store_state_every": 3,
        },
    }
    if path is not None:
        config["database"] = {"path": str(path)}
    return config


@pytest.mark.parametrize("kind", ["serial", "dask"])
def test_a_clones_worker_reads_the_state_it_restarts_from_and_the_run_is_the_same(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone restarts from the last state kept before its branching point and replays: its
    worker reads that state (and the noises from it), not the states of the whole prefix,
    except from a file whose states are small enough to read whole in one opening (64 KiB here,
    so that the test's files take both ways); the run is the in-memory run, bit for bit."""
    from pytams.io import _columns, _worker_files

    reference = TAMS(BIG, sparse_states(None)).run()
    if kind == "serial":  # the serial worker is this process: it reads each state alone
        monkeypatch.setattr(_worker_files, "READ_WHOLE_BELOW", 0)
    runner = SerialRunner() if kind == "serial" else DaskRunner(workers=2)
    result = TAMS(BIG, sparse_states(tmp_path / "run.tams"), runner=runner).run()
    assert result == reference
    assert result.iterations >= 10
    db, memory = open_database(tmp_path / "run.tams"), reference.database
    assert memory is not None
    for key in memory.stored_keys():
        assert db.trajectory(key) == memory.trajectory(key)

    read: list[int] = []  # the state samples each read takes from the files
    original = _columns._read_values

    def counting(ds: Any, name: str, *args: Any) -> list[Any]:
        values = original(ds, name, *args)
        if name == "state":
            read.append(len(values))
        return values

    monkeypatch.setattr(_columns, "_read_values", counting)
    files = WorkerFiles((tmp_path / "run.tams").absolute(), "1")
    samples = {"parent": 0, "whole": 0, "one by one": 0}
    for key in db.stored_keys():
        whole = db.trajectory(key)
        level = sorted(whole.scores)[len(whole) // 2]  # a branching point within the trajectory
        branch = whole.first_above(level)
        start = whole.last_stored_state(branch)
        read.clear()
        files.read(key)  # a whole read: every state of every file of the chain
        samples["whole"] += sum(read)
        for small, counted in ((64 * 2**10, "parent"), (0, "one by one")):
            monkeypatch.setattr(_worker_files, "READ_WHOLE_BELOW", small)
            read.clear()
            parent = files.read_parent(key, level)
            samples[counted] += sum(read)
            if not small:
                assert sum(read) == 1  # the state the clone restarts from, alone
            assert parent.times == whole.times
            assert parent.scores == whole.scores
            assert _same(parent.states[start : branch + 1], whole.states[start : branch + 1])
            assert _same(parent.noises[start : branch + 1], whole.noises[start : branch + 1])
    assert samples["one by one"] == len(db.stored_keys())
    assert samples["parent"] < samples["whole"] / 2


def chain_files(path: Path, key: TrajectoryKey) -> int:
    """The files a whole read of ``key`` opens: its own, then its parents' to a whole one."""
    count = 1
    while True:
        with netCDF4.Dataset(path / "trajectories" / f"{key}.nc") as ds:
            if not int(getattr(ds, "pytams_shared_prefix", 0)):
                return count
            key = TrajectoryKey.parse(ds.pytams_parent)
        count += 1


def test_a_worker_reads_the_times_and_scores_of_a_chain_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker keeps the times and scores of the files it read (`TIMELINES`): a second clone
    of a parent opens only the files that hold the state it restarts from, and receives what
    the first did; the run is the in-memory run, bit for bit."""
    from pytams.io import _worker_files

    reference = TAMS(BIG, sparse_states(None)).run()
    result = TAMS(BIG, sparse_states(tmp_path / "run.tams")).run()
    assert result == reference
    db = open_database(tmp_path / "run.tams")
    opened: list[Path] = []
    original = _worker_files.read_key_file

    def counting(path: Path, *args: Any) -> tuple[Trajectory, int]:
        opened.append(path)
        return original(path, *args)

    monkeypatch.setattr(_worker_files, "read_key_file", counting)
    monkeypatch.setattr(_worker_files, "READ_WHOLE_BELOW", 0)  # each state read alone
    files = WorkerFiles((tmp_path / "run.tams").absolute(), "1")
    deep = 0
    for key in db.stored_keys():
        whole = db.trajectory(key)
        level = sorted(whole.scores)[len(whole) // 2]
        branch = whole.first_above(level)
        start = whole.last_stored_state(branch)
        chain = chain_files(tmp_path / "run.tams", key)
        deep = max(deep, chain)
        _worker_files.TIMELINES.clear()
        opened.clear()
        first = files.read_parent(key, level)
        for_states = len(opened) - chain  # the files holding snapshots start..branch
        assert 1 <= for_states <= 2
        opened.clear()
        second = files.read_parent(key, level)
        assert len(opened) == for_states  # the chain's times and scores were kept
        for parent in (first, second):
            assert parent.times == whole.times
            assert parent.scores == whole.scores
            assert _same(parent.states[start : branch + 1], whole.states[start : branch + 1])
            assert _same(parent.noises[start : branch + 1], whole.noises[start : branch + 1])
    assert deep >= 4  # the test's chains run through several files


def test_a_kept_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    """`FileTimeline` keeps a file's times and scores while its inode, size and modification
    time stay; a file written anew (a database made again at the same path) is read anew, and
    a reader that refuses pickles never receives what one that allowed them read."""
    from pytams.io._cache import FileTimeline
    from pytams.io._columns import UNREAD

    timelines = FileTimeline(2**20)
    path = tmp_path / "000001-00001.nc"
    path.write_bytes(b"first")
    loads: list[str] = []

    def load(label: str, state: Any = 1.5) -> Any:
        def read() -> tuple[Trajectory, int]:
            loads.append(label)
            trajectory = Trajectory(key=TrajectoryKey(1, 1), times=[0.0, 1.0], scores=[0.1, 0.2])
            trajectory.noises, trajectory.states = [None, 0.3], [state, None]
            return trajectory, 1

        return read

    part, shared = timelines.read(path, True, load("first"))
    assert (part.states, shared) == ([1.5, None], 1)  # read anew: as the reader gave it
    part.times.append(9.0)  # the caller's to change
    kept, shared = timelines.read(path, True, load("again"))
    assert loads == ["first"]
    assert (kept.times, kept.scores, shared) == ([0.0, 1.0], [0.1, 0.2], 1)
    assert kept.states == [UNREAD, None]
    assert kept.noises == [None, UNREAD]
    timelines.read(path, False, load("no pickles"))
    assert loads == ["first", "no pickles"]
    replacement = tmp_path / "new"
    replacement.write_bytes(b"second, longer")
    replacement.replace(path)
    part, _ = timelines.read(path, True, load("changed", state=2.5))
    assert loads[-1] == "changed"
    assert part.states == [2.5, None]
    small = FileTimeline(64 * 2)  # room for one two-snapshot file
    other = tmp_path / "other.nc"
    other.write_bytes(b"x")
    for name in (path, other, path):
        small.read(name, True, load(name.name))
    assert loads[-3:] == [path.name, other.name, path.name]  # the first was dropped


def stored_snapshots(path: Path) -> dict[TrajectoryKey, int]:
    """The snapshots each trajectory file holds."""
    held = {}
    for file in (path / "trajectories").glob("*.nc"):
        with netCDF4.Dataset(file) as ds:
            held[TrajectoryKey.parse(ds.pytams_key)] = len(ds.dimensions["time"])
    return held


def computed_snapshots(database: Any) -> dict[TrajectoryKey, int]:
    """The snapshots each trajectory computed: a clone's after its branching point."""
    computed = {}
    for key in database.stored_keys():
        trajectory = database.trajectory(key)
        shared = 0 if trajectory.parent is None else trajectory.branch_index + 1
        computed[key] = max(len(trajectory) - shared, 1)  # a clone born converged keeps one
    return computed


def test_a_worker_killed_while_writing_its_file_leaves_nothing_a_resume_trusts(
    tmp_path: Path, in_memory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "kill-the-next-writer"
    marker.touch()
    monkeypatch.setenv("PYTAMS_TEST_KILL_MARKER", str(marker))
    config = small(tmp_path / "run.tams", runner={"type": "asyncio", "workers": 2, "retries": 2})
    result = TAMS(DYING, config).run()
    assert not marker.exists()  # a worker took the marker and died writing a file
    # its half-written file, never renamed (and maybe the other worker's: the broken pool's
    # processes are all stopped, perhaps while writing too): none is a trajectory of the run
    stray = list((tmp_path / "run.tams" / "trajectories").glob(".*.tmp"))
    assert stray
    assert result == in_memory  # the tasks ran again, on new workers
    assert open_database(tmp_path / "run.tams").stored_keys() == in_memory.database.stored_keys()
    deadline = time.monotonic() + 30.0  # the stopped workers exit, and are reaped
    while any(path.exists() for path in stray) and time.monotonic() < deadline:
        multiprocessing.active_children()  # reaps finished children (zombies keep their pid)
        NetCDFStore(tmp_path / "run.tams")  # a writer's opening deletes the dead workers' files
        time.sleep(0.1)
    assert not any(path.exists() for path in stray)


def test_a_worker_that_does_not_see_the_database_says_so(tmp_path: Path) -> None:
    files = WorkerFiles(tmp_path / "elsewhere.tams", "1")
    with pytest.raises(StorageError, match=r"does not see the database directory .*share"):
        files.write(Trajectory(key=TrajectoryKey(0)))
    with pytest.raises(StorageError, match="file system that the driver and every worker"):
        files.read(TrajectoryKey(0))
