"""NetCDFStore: the Store contract (shared with MemoryStore), bit-for-bit round trips, layout."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytams.core import IterationRecord, MemoryStore, Store, Trajectory, TrajectoryKey, plugins
from pytams.core.errors import StorageError
from pytams.core.trajectory import _same
from pytams.io import NetCDFStore
from pytams.io._columns import UNREAD, PathRoots
from pytams.io._files import open_for_reading
from pytams.io._trajectory_file import read_trajectory_file

ROOT_TOKEN = "@@ROOT@@"
K = TrajectoryKey


def assert_partial_reads_agree(store: NetCDFStore, whole: Trajectory) -> None:
    """Reading a few snapshots' noises and states gives those of a whole read, `UNREAD` for
    the other values the file holds (None where it holds none), and every time and score."""
    n = len(whole)
    for wanted in (range(0), range(1, 2), range(n // 2, n), range(n)):
        with open_for_reading(store.trajectory_file(whole.key), "the test's file", "") as ds:
            roots = PathRoots(store.path)
            part, _ = read_trajectory_file(ds, roots, allow_pickle=True, wanted=wanted)
        for column in ("noises", "states"):
            values = getattr(whole, column)
            expected = [v if i in wanted or v is None else UNREAD for i, v in enumerate(values)]
            assert _same(getattr(part, column), expected), (column, wanted)
        assert _same(part.times, whole.times)
        assert _same(part.scores, whole.scores)


def reopen(store: Store) -> Store:
    """The same store read back from disk (a store with files), or itself (memory)."""
    store.flush()
    if isinstance(store, NetCDFStore):
        return NetCDFStore(store.path, read_only=True)
    if store.location is not None:
        reopened: Store = type(store)(store.location)  # type: ignore[call-arg]
        return reopened
    return store


# the stores of the contract: ours, and a third party's (tests/plugins/pytams-testplugin),
# found through the entry-point group pytams.stores
STORES = ["memory", "netcdf", "pickledir"]


@pytest.fixture(params=STORES)
def create_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """The contract's hook: a fresh empty store of each implementation."""
    if request.param not in plugins.installed(plugins.STORES):
        pytest.skip(f"no store {request.param!r} is installed (nox -s tests installs it)")
    store_class = plugins.load(plugins.STORES, request.param, setting="[database] engine")

    def create() -> Store:
        if request.param == "memory":
            return MemoryStore()
        store: Store = store_class(tmp_path / "run.tams")
        return store

    return create


def trajectory(key: TrajectoryKey, n: int = 4, **fields: Any) -> Trajectory:
    base: dict[str, Any] = {
        "times": [0.1 * i for i in range(n)],
        "scores": [0.05 * i for i in range(n)],
        "noises": [None, *[float(i) for i in range(1, n)]],
        "states": [float(i) for i in range(n)],
    }
    return Trajectory(key=key, **{**base, **fields})


def record(
    index: int, killed: list[TrajectoryKey], parents: list[TrajectoryKey]
) -> IterationRecord:
    return IterationRecord(
        index=index,
        level=0.25 + index,
        killed=tuple(killed),
        parents=tuple(parents),
        weight=0.5 ** (index + 1),
    )


# ---------------------------------------------------------------------- the Store contract
def test_a_new_store_is_empty(create_store: Callable[[], Store]) -> None:
    store = create_store()
    assert isinstance(store, Store)
    assert store.read_metadata() is None
    assert store.read_iterations() == []
    assert store.read_ensemble() is None
    assert store.trajectory_keys() == []
    assert not store.has_trajectory(K(0))


def test_metadata_round_trip(create_store: Callable[[], Store]) -> None:
    store = create_store()
    metadata = {
        "config": {
            "tams": {"ntrajectories": 3, "walltime": 1.5},
            "model": {"script": (0.0, 0.1), "nested": {"x": [1, 2]}, "name": "é"},
        },
        "seed": 2**100 + 7,
        "repeat": 0,
        "model": "m:M",
        "format_version": 1,
    }
    store.write_metadata(metadata)
    for view in (store, reopen(store)):
        back = view.read_metadata()
        assert back == metadata
        assert back is not None
        assert back["config"]["model"]["script"] == (0.0, 0.1)  # a tuple


def test_trajectories_iterations_and_ensemble(create_store: Callable[[], Store]) -> None:
    store = create_store()
    store.write_metadata({"seed": 1})
    first = [trajectory(K(slot)) for slot in range(3)]
    for t in first:
        store.write_trajectory(t)
    store.write_ensemble([t.key for t in first])
    rec = record(0, [K(0), K(2)], [K(1), K(1)])
    store.append_iteration(rec)
    clone = trajectory(K(0, 1), parent=K(1), branch_index=2, converged=True, model_steps=7)
    store.write_trajectory(clone)
    for view in (store, reopen(store)):
        assert view.read_iterations() == [rec]
        assert view.read_ensemble() == [K(0), K(1), K(2)]
        assert view.trajectory_keys() == [K(0), K(0, 1), K(1), K(2)]
        assert view.has_trajectory(K(0, 1))
        assert not view.has_trajectory(K(2, 1))
        assert view.read_trajectory(K(0, 1)) == clone
        assert view.read_trajectory(K(2)) == first[2]
    store.write_ensemble([K(0, 1), K(1), K(2)])
    store.append_iteration(record(1, [K(2)], [K(0, 1)]))
    assert reopen(store).read_ensemble() == [K(0, 1), K(1), K(2)]
    assert [r.index for r in reopen(store).read_iterations()] == [0, 1]


def test_clear_deletes_everything(create_store: Callable[[], Store]) -> None:
    store = create_store()
    store.write_metadata({"seed": 1})
    store.write_trajectory(trajectory(K(0)))
    store.write_ensemble([K(0)])
    store.append_iteration(record(0, [K(0)], [K(0)]))
    store.clear()
    for view in (store, reopen(store)):
        assert view.read_metadata() is None
        assert view.trajectory_keys() == []
        assert view.read_iterations() == []
        assert view.read_ensemble() is None


# ---------------------------------------------------------------------- netCDF specifics
def test_a_database_is_a_directory_of_netcdf_files(tmp_path: Path) -> None:
    import netCDF4

    store = NetCDFStore(tmp_path / "run.tams")
    assert not (tmp_path / "run.tams").exists()  # nothing written before the first write
    store.write_metadata({"seed": 3, "model": "m:M"})
    store.write_trajectory(trajectory(K(5, 2), parent=K(1, 1), branch_index=1))
    store.flush()
    names = sorted(p.name for p in (tmp_path / "run.tams").rglob("*"))
    assert names == [".pytams.lock", "000005-00002.nc", "tams.nc", "trajectories"]
    with netCDF4.Dataset(tmp_path / "run.tams" / "trajectories" / "000005-00002.nc") as ds:
        assert ds.Conventions.startswith("CF-")
        assert ds["time"].units == "1"
        assert ds["time"].standard_name == "time"
        assert ds["score"].long_name
        assert ds.pytams_parent == "000001-00001"
    with netCDF4.Dataset(tmp_path / "run.tams" / "tams.nc") as ds:
        assert ds.pytams_model == "m:M"
        assert ds.pytams_seed == "3"
        assert "pytams-io" in ds.pytams_versions
        assert int(ds.pytams_format_version) == 2


def test_numeric_trajectories_are_cdf5_files_and_text_ones_netcdf4(tmp_path: Path) -> None:
    import netCDF4

    store = NetCDFStore(tmp_path / "run.tams")
    store.write_metadata({"seed": 1})
    store.write_trajectory(trajectory(K(1), states=[np.zeros((2, 3))] * 4))
    store.write_trajectory(trajectory(K(2), states=[None, "a.dat", None, "b.dat"]))
    store.flush()
    models = {}
    for key in (K(1), K(2)):
        with netCDF4.Dataset(store.trajectory_file(key)) as ds:
            models[key] = ds.data_model
            assert int(ds["pytams_end"][...]) > 0  # the sentinel closes both kinds
    assert models == {K(1): "NETCDF3_64BIT_DATA", K(2): "NETCDF4"}
    with netCDF4.Dataset(tmp_path / "run.tams" / "tams.nc") as ds:
        assert ds.data_model == "NETCDF3_64BIT_DATA"


def test_netcdf4_trajectory_files_without_a_sentinel_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files of pytams-io 0.1 (format version 1, netCDF-4, no sentinel) stay readable."""
    from pytams.io import _trajectory_file as store_module

    def no_sentinel(ds: Any) -> tuple[Any, Any]:
        return ds.createVariable("unrelated", "i1", ()), np.int8(0)

    monkeypatch.setattr(store_module, "FAST_FORMAT", "NETCDF4")
    monkeypatch.setattr(store_module, "_define_end", no_sentinel)
    written = trajectory(K(3), states=[np.arange(3.0)] * 4)
    store = NetCDFStore(tmp_path / "run.tams")
    store.write_trajectory(written)
    monkeypatch.undo()
    assert reopen(store).read_trajectory(K(3)) == written


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=40))
def test_the_iteration_columns_follow_the_records(rows: list[tuple[int, bool]]) -> None:
    from pytams.io.store import IterationTable

    table = IterationTable()
    for j, (kills, failed) in enumerate(rows):
        table.append(record(j, [K(i, j) for i in range(kills)], [K(9, i) for i in range(kills)]))
        if failed:  # a write that failed takes its row back
            table.pop()
            table.append(record(j, [K(7, j)], [K(8, j)]))
    columns = table.frozen()
    records = table.records
    assert columns.index.tolist() == [r.index for r in records]
    assert columns.level.tolist() == [r.level for r in records]
    assert columns.weight.tolist() == [r.weight for r in records]
    assert columns.killed_count.tolist() == [len(r.killed) for r in records]
    assert columns.kills.tolist() == [
        [k.slot, k.generation, p.slot, p.generation]
        for r in records
        for k, p in zip(r.killed, r.parents, strict=True)
    ]
    assert IterationTable(records).frozen().kills.tolist() == columns.kills.tolist()


def test_sparse_states_take_only_their_room(tmp_path: Path) -> None:
    store = NetCDFStore(tmp_path / "run.tams")
    states = [np.arange(1000.0) + i if i % 10 == 0 else None for i in range(101)]
    t = trajectory(K(0), n=101, states=states)
    store.write_trajectory(t)
    back = reopen(store).read_trajectory(K(0))
    assert back == t
    size = store.trajectory_file(K(0)).stat().st_size
    assert size < 1.2 * 11 * 8000 + 4096


def test_a_state_path_inside_the_database_follows_it_when_moved(tmp_path: Path) -> None:
    root = tmp_path / "run.tams"
    store = NetCDFStore(root)
    inside = str(root / "states" / "a.bin")
    outside = "/data/elsewhere/b.bin"
    store.write_trajectory(trajectory(K(0), n=3, states=[inside, None, outside]))
    store.flush()
    shutil.move(root, tmp_path / "moved.tams")
    back = NetCDFStore(tmp_path / "moved.tams", read_only=True).read_trajectory(K(0))
    assert back.states == [str(tmp_path / "moved.tams" / "states" / "a.bin"), None, outside]


def test_other_state_types_round_trip(tmp_path: Path) -> None:
    store = NetCDFStore(tmp_path / "run.tams")
    columns: list[list[Any]] = [
        [(1, "a"), {"b": 2}, None],  # picklable objects
        [np.float32(1.5), np.float32(-0.0), np.float32(2.5)],  # numpy scalars
        [np.array([True, False]), np.array([False, False]), None],  # bool arrays
        [np.arange(3, dtype=">f8"), np.arange(3, dtype=">f8"), None],  # big-endian
        [Path("/x/y"), Path("z"), None],  # pathlib paths
        [3, -(2**63), 2**63 - 1],  # Python ints
        [2**70, 1, None],  # too big for int64: pickled
        [np.zeros((2, 0)), np.zeros((2, 0)), None],  # empty arrays: pickled
        [np.array([1 + 2j]), np.array([3j]), None],  # complex: pickled
        [np.arange(2.0), np.arange(3.0), np.arange(1.0)],  # shapes that differ: ragged
        ["a", "bc", None],  # text
    ]
    for slot, states in enumerate(columns):
        store.write_trajectory(trajectory(K(slot), n=3, states=states, noises=[None, *states[:2]]))
    view = reopen(store)
    for slot, states in enumerate(columns):
        back = view.read_trajectory(K(slot))
        assert back == trajectory(K(slot), n=3, states=states, noises=[None, *states[:2]])
        assert [type(s) for s in back.states] == [type(s) for s in states]
        assert_partial_reads_agree(store, back)


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    NetCDFStore(tmp_path / "run.tams").write_metadata({"seed": 1})
    store = NetCDFStore(tmp_path / "run.tams", read_only=True)
    with pytest.raises(StorageError, match="read-only"):
        store.write_trajectory(trajectory(K(0)))
    with pytest.raises(StorageError, match="read-only"):
        store.clear()


def test_an_interrupted_clear_is_finished_by_the_next_writer(tmp_path: Path) -> None:
    store = NetCDFStore(tmp_path / "run.tams")
    store.write_metadata({"seed": 1})
    store.write_trajectory(trajectory(K(0)))
    store.flush()
    stale = store.trajectory_file(K(0))
    # what clear() leaves when killed between its two steps: tams.nc marked, files still there
    store._clearing = True
    store._metadata_json = None
    store._write_main()
    store.flush()
    assert stale.exists()
    assert NetCDFStore(tmp_path / "run.tams", read_only=True).trajectory_keys() == [K(0)]
    NetCDFStore(tmp_path / "run.tams")  # a writer finishes the overwrite
    assert not stale.exists()


# ---------------------------------------------------------------------- Hypothesis round trip
FLOATS: dict[Any, st.SearchStrategy[float]] = {
    np.float64: st.floats(width=64),
    np.float32: st.floats(width=32),
}
INTS = st.integers(-(2**63), 2**63 - 1)
PATH_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    min_size=1,
    max_size=30,
)


@st.composite
def state_columns(draw: st.DrawFn, n: int) -> list[Any]:
    """A state column of n snapshots: arrays of one shape and dtype, or path strings."""
    if draw(st.booleans()):
        shape = draw(st.sampled_from([(), (3,), (4, 5)]))
        dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
        elements = INTS if dtype is np.int64 else FLOATS[dtype]
        value: st.SearchStrategy[Any] = hnp.arrays(dtype, shape, elements=elements)
    else:
        value = st.one_of(PATH_TEXT, PATH_TEXT.map(lambda t: f"{ROOT_TOKEN}/{t}"))
    return [draw(st.one_of(st.none(), value)) for _ in range(n)]


@st.composite
def trajectories(draw: st.DrawFn) -> Trajectory:
    n = draw(st.integers(1, 8))
    finite = st.floats(allow_nan=False, width=64)
    noise = st.one_of(finite, hnp.arrays(np.float64, (2,), elements=st.floats(width=64)))
    noise_column = [None, *[draw(noise) for _ in range(n - 1)]]
    if len({type(v) for v in noise_column[1:]}) > 1:
        noise_column = [None, *[float(i) for i in range(1, n)]]
    clone = draw(st.booleans())
    return Trajectory(
        key=K(draw(st.integers(0, 10**6)), draw(st.integers(0, 10**4))),
        parent=K(draw(st.integers(0, 99)), 0) if clone else None,
        branch_index=draw(st.integers(0, 50)) if clone else None,
        times=draw(st.lists(finite, min_size=n, max_size=n)),
        scores=draw(st.lists(finite, min_size=n, max_size=n)),
        noises=noise_column,
        states=draw(state_columns(n)),
        converged=draw(st.booleans()),
        model_steps=draw(st.integers(0, 2**62)),
    )


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(trajectories())
def test_trajectories_round_trip_bit_for_bit(written: Trajectory) -> None:
    root = Path(tempfile.mkdtemp(prefix="pytams-io-")) / "run.tams"
    try:
        written.states = [
            s.replace(ROOT_TOKEN, str(root)) if isinstance(s, str) else s for s in written.states
        ]
        store = NetCDFStore(root)
        store.write_trajectory(written)
        back = reopen(store).read_trajectory(written.key)
        assert back == written  # bitwise on arrays: shape, dtype and bytes
        assert_partial_reads_agree(store, written)
        for a, b in zip(written.states, back.states, strict=True):
            assert type(a) is type(b)
            if isinstance(a, np.ndarray):
                assert a.tobytes() == b.tobytes()
                assert (a.shape, a.dtype) == (b.shape, b.dtype)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_a_failed_write_is_reported_and_no_later_write_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytams.io import _files

    store = NetCDFStore(tmp_path / "run.tams")
    store.write_metadata({"seed": 1})
    store.flush()
    commit = _files.commit

    def failing_commit(tmp: Path, target: Path) -> None:
        if target.name == "000001-00000.nc":
            raise OSError(28, "No space left on device")
        commit(tmp, target)

    monkeypatch.setattr(_files, "commit", failing_commit)
    store.write_trajectory(trajectory(K(1)))
    with pytest.raises(StorageError, match=r"000001-00000\.nc.*No space left"):
        store.flush()
    with pytest.raises(StorageError, match="No space left"):
        store.write_trajectory(trajectory(K(2)))
    assert sorted(p.name for p in (tmp_path / "run.tams").rglob("*")) == [
        ".pytams.lock",
        "tams.nc",
        "trajectories",
    ]  # nothing after the failed write, no temporary file
    monkeypatch.setattr(_files, "commit", commit)
    fresh = NetCDFStore(tmp_path / "run.tams")  # a new store starts from what is on disk
    fresh.write_trajectory(trajectory(K(2)))
    assert reopen(fresh).trajectory_keys() == [K(2)]


def test_temporary_files_of_killed_writers_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    store = NetCDFStore(tmp_path / "run.tams")
    store.write_metadata({"seed": 1})
    store.write_trajectory(trajectory(K(0)))
    store.flush()
    dead = 2**22 + 12345  # above the default pid_max of Linux: no such process
    stale = [
        tmp_path / "run.tams" / f".tams.nc.{dead}-0a1b2c3d.tmp",
        tmp_path / "run.tams" / "trajectories" / f".000001-00000.nc.{dead}-deadbeef.tmp",
    ]
    alive = tmp_path / "run.tams" / f".tams.nc.{os.getppid()}-0a1b2c3d.tmp"
    for path in [*stale, alive]:
        path.write_bytes(b"half")
    NetCDFStore(tmp_path / "run.tams", read_only=True)
    assert all(path.exists() for path in stale)  # a reader deletes nothing
    NetCDFStore(tmp_path / "run.tams")
    assert not any(path.exists() for path in stale)
    assert alive.exists()  # a running process's file is left alone
    assert NetCDFStore(tmp_path / "run.tams").trajectory_keys() == [K(0)]


HOLDER = """
import sys, time
from pytams.io import NetCDFStore
store = NetCDFStore(sys.argv[1])
store.write_metadata({"seed": 1})
store.flush()
print("writing", flush=True)
time.sleep(120)
"""


def test_a_second_process_cannot_write_a_database_being_written(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    path = tmp_path / "run.tams"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "writing"
        with pytest.raises(StorageError, match=rf"being written by another run \(pid {holder.pid}"):
            NetCDFStore(path)
        assert NetCDFStore(path, read_only=True).read_metadata() == {"seed": 1}  # reading is fine
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the lock died with its process: no stale lock to clear by hand
    store = NetCDFStore(path)
    store.append_iteration(record(0, [], []))
    assert reopen(store).read_iterations() == [record(0, [], [])]
    assert sorted(p.name for p in path.iterdir()) == [".pytams.lock", "tams.nc"]


def test_a_database_of_format_version_1_is_read(tmp_path: Path) -> None:
    """Before version 2 every trajectory file was whole and had no pytams_shared_prefix."""
    import netCDF4

    store = NetCDFStore(tmp_path / "run.tams")
    store.write_metadata({"seed": 3})
    clone = trajectory(K(5, 2), parent=K(1, 1), branch_index=1)
    store.write_trajectory(clone)
    store.write_ensemble([K(5, 2)])
    store.flush()
    with netCDF4.Dataset(store.trajectory_file(K(5, 2)), "a") as ds:
        ds.delncattr("pytams_shared_prefix")
        ds.delncattr("pytams_max_score")
        ds.pytams_format_version = np.int32(1)
    with netCDF4.Dataset(tmp_path / "run.tams" / "tams.nc", "a") as ds:
        ds.pytams_format_version = np.int32(1)
    assert NetCDFStore(tmp_path / "run.tams", read_only=True).read_trajectory(K(5, 2)) == clone
