"""The database as a safe data product: exploring it never runs code stored in it.

A tampered database (a pickle planted in the metadata of ``tams.nc``, or in a state column of
a trajectory file) explored with ``open_database``, ``.to_xarray()``, ``pytams inspect`` or
``pytams plot`` runs nothing: the payload would create a marker file. Pickles are read only
with the opt-in (``allow_pickle=True``, ``--allow-pickle``) or by the run's own store (resume).
Common states (arrays of any dtype and shape, numbers, strings, paths, tuples and dicts of
them) are stored natively, bit for bit.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import math
import pathlib
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import netCDF4
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytams.core import TAMS, Database, ForwardModel, StorageError, Trajectory, TrajectoryKey
from pytams.core.cli import main
from pytams.io import NetCDFStore, open_database
from pytams.io._metadata import from_json, to_json
from tests.io.ou import ou_config

K = TrajectoryKey
EXOTIC_MODEL = "tests.io.test_trust:ExoticOU"


# ---------------------------------------------------------------------- payloads and models
class Payload:
    """What an attacker plants: unpickling it creates ``marker`` (any code could run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


@dataclasses.dataclass(frozen=True)
class Exotic:
    """A state of a user's class: no native kind holds it, so it is pickled."""

    x: float


class ExoticOU(ForwardModel[Exotic, float]):
    """The Ornstein-Uhlenbeck model of ou.py, its state wrapped in `Exotic`."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.barrier = float(params.get("barrier", 2.0))
        self.x = 0.0

    def _advance(self, dt: float, noise: float) -> float:
        self.x += -self.x * dt + math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> Exotic:
        return Exotic(self.x)

    def _set_state(self, state: Exotic) -> None:
        self.x = state.x

    def _score(self) -> float:
        return self.x / self.barrier

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())


# ---------------------------------------------------------------------- helpers
def kinds_in(path: Path) -> set[str]:
    """The ``pytams_kind`` of every variable (and column attribute) of a netCDF file."""
    with netCDF4.Dataset(path) as ds:
        kinds = {
            str(var.getncattr("pytams_kind"))
            for var in ds.variables.values()
            if "pytams_kind" in var.ncattrs()
        }
        columns = {n for n in ds.ncattrs() if n.startswith(("pytams_state", "pytams_noise"))}
        return kinds | {str(ds.getncattr(n)) for n in columns}


def all_kinds(database: Path) -> set[str]:
    return set().union(*(kinds_in(p) for p in (database / "trajectories").glob("*.nc")))


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type, bit for bit (arrays: dtype, shape and bytes; floats: bits)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (np.ndarray, np.generic)):
        layout: bool = a.dtype == b.dtype and a.shape == b.shape
        return layout and a.tobytes() == b.tobytes()
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return bool(np.float64(a).tobytes() == np.float64(b).tobytes())
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    return bool(a == b)


def column_trajectory(key: TrajectoryKey, states: list[Any]) -> Trajectory:
    """A trajectory whose state and noise columns hold ``states``."""
    n = len(states)
    return Trajectory(
        key=key,
        times=[0.1 * i for i in range(n)],
        scores=[0.05 * i for i in range(n)],
        noises=[None, *states[1:]],
        states=states,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short finished run (states and noises are floats: nothing pickled)."""
    path = tmp_path_factory.mktemp("trust") / "run.tams"
    TAMS(None, ou_config(path, max_iterations=3)).run()
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


def copy_of(database: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.tams"
    shutil.copytree(database, copy, ignore=shutil.ignore_patterns(".pytams.lock"))
    return copy


def plant_in_metadata(database: Path, marker: Path) -> None:
    """Edit ``tams.nc``: a pickle payload in the run's metadata (the old pickle tag)."""
    blob = base64.b64encode(pickle.dumps(Payload(marker))).decode("ascii")
    with netCDF4.Dataset(database / "tams.nc", "a") as ds:
        metadata = json.loads(ds.pytams_metadata)
        metadata["config"]["model"]["note"] = {"__pytams_pickle__": blob}
        ds.pytams_metadata = json.dumps(metadata)


def plant_in_state(database: Path, marker: Path, *, archived: bool) -> TrajectoryKey:
    """Rewrite a trajectory file (of the ensemble, or a killed one): a payload as a state."""
    db = open_database(database)
    victim = db.archived()[0] if archived else (db.ensemble or [])[0]
    tampered = dataclasses.replace(victim, states=[Payload(marker), *victim.states[1:]])
    store = NetCDFStore(database)  # pytams' own writer makes the file: pickle kind "pickle"
    store.write_trajectory(tampered)
    store.flush()
    assert "pickle" in kinds_in(store.trajectory_file(victim.key))
    return victim.key


def refused(call: Callable[[], Any]) -> str:
    """The message of the error ``call`` raises for pickles it did not read."""
    with pytest.raises(StorageError) as info:
        call()
    message = str(info.value)
    assert "pickles" in message
    assert "run any code" in message
    assert "allow_pickle=True" in message
    assert "--allow-pickle" in message
    return message


def cli_refuses(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert "pickles" in error
    assert "--allow-pickle" in error


# ---------------------------------------------------------------------- a tampered database
def test_a_pickle_planted_in_the_metadata_runs_nothing(
    finished: Path, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    database = copy_of(finished, tmp_path)
    plant_in_metadata(database, marker)
    message = refused(lambda: open_database(database))
    assert "tams.nc" in message
    refused(lambda: open_database(database / "tams.nc").to_xarray())
    refused(NetCDFStore(database, read_only=True).read_metadata)
    cli_refuses(["inspect", str(database)], capsys)
    cli_refuses(["inspect", str(database), "--json"], capsys)
    cli_refuses(["plot", str(database), "--output", str(tmp_path / "figures")], capsys)
    assert not marker.exists()


def test_a_pickle_planted_in_a_state_of_the_ensemble_runs_nothing(
    finished: Path, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    database = copy_of(finished, tmp_path)
    key = plant_in_state(database, marker, archived=False)
    message = refused(lambda: open_database(database))
    assert NetCDFStore(database, read_only=True).trajectory_file(key).name in message
    refused(lambda: open_database(database).to_xarray(states=False))
    refused(lambda: NetCDFStore(database, read_only=True).read_trajectory(key))
    cli_refuses(["inspect", str(database)], capsys)
    cli_refuses(["plot", str(database), "--output", str(tmp_path / "figures")], capsys)
    assert not marker.exists()


def test_a_pickle_planted_in_a_killed_trajectory_runs_nothing(
    finished: Path, tmp_path: Path, marker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ensemble is clean: exploring it works; reading the tampered file is refused."""
    pytest.importorskip("matplotlib")
    database = copy_of(finished, tmp_path)
    key = plant_in_state(database, marker, archived=True)
    db = open_database(database)
    assert db.to_xarray().sizes["trajectory"] == 16  # a safe result
    refused(lambda: db.to_xarray(archived=True))
    refused(lambda: db.trajectory(key))
    capsys.readouterr()
    assert main(["inspect", str(database)]) == 0  # reads no state of a killed trajectory
    status = main(["plot", str(database), "--output", str(tmp_path / "figures")])
    if status != 0:  # a plot may read the killed trajectories: then it refuses them
        assert "--allow-pickle" in capsys.readouterr().err
    assert not marker.exists()


def test_with_the_opt_in_the_planted_payloads_are_unpickled(
    finished: Path, tmp_path: Path, marker: Path
) -> None:
    """The payloads are live: the tests above pass because nothing unpickled them."""
    database = copy_of(finished, tmp_path)
    plant_in_metadata(database, marker)
    with pytest.raises(StorageError):  # the opt-in is needed at opening too
        open_database(database)
    assert not marker.exists()
    open_database(database, allow_pickle=True)
    assert marker.exists()
    marker.unlink()
    state_marker = tmp_path / "state-payload-ran"
    clean = copy_of(finished, tmp_path / "clean")
    plant_in_state(clean, state_marker, archived=False)
    assert not state_marker.exists()
    open_database(clean, allow_pickle=True)
    assert state_marker.exists()


# ---------------------------------------------------------------------- legitimate pickles
@pytest.fixture(scope="module")
def exotic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose states are of a user's class (pickled), stopped after 2 iterations."""
    path = tmp_path_factory.mktemp("exotic") / "run.tams"
    TAMS(None, ou_config(path, model=EXOTIC_MODEL, max_iterations=2)).run()
    return path


def test_the_opt_in_reads_a_legitimately_pickled_column(
    exotic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    assert "pickle" in all_kinds(exotic)
    refused(lambda: open_database(exotic))
    db = open_database(exotic, allow_pickle=True)
    states = [s for t in db.ensemble or [] for s in t.states if s is not None]
    assert states
    assert all(type(s) is Exotic for s in states)
    cli_refuses(["inspect", str(exotic)], capsys)
    assert main(["inspect", str(exotic), "--allow-pickle"]) == 0
    assert "iterations   2" in capsys.readouterr().out
    cli_refuses(["plot", str(exotic), "--output", str(tmp_path / "a")], capsys)
    assert main(["plot", str(exotic), "--allow-pickle", "--output", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "score.png").is_file()


def test_resuming_ones_own_run_with_pickled_states_needs_no_flag(
    exotic: Path, tmp_path: Path
) -> None:
    database = copy_of(exotic, tmp_path)
    config = ou_config(database, model=EXOTIC_MODEL, max_iterations=4)
    config["database"]["resume"] = True
    resumed = TAMS(None, config).run()
    straight = TAMS(
        None, ou_config(tmp_path / "straight.tams", model=EXOTIC_MODEL, max_iterations=4)
    ).run()
    assert resumed.probability == straight.probability
    assert len(open_database(database, allow_pickle=True).iterations) == 4
    assert NetCDFStore(database).allow_pickle  # the run's store: the writer trusts its database
    assert not NetCDFStore(database, read_only=True).allow_pickle


# ---------------------------------------------------------------------- native round trips
NATIVE: dict[str, list[Any]] = {
    "ragged arrays": [np.arange(3.0), np.zeros((2, 2)), None, np.array(5.0), np.zeros((0, 3))],
    "empty arrays": [np.zeros((2, 0)), np.zeros((2, 0)), None, np.zeros((2, 0))],
    "tuples": [(np.arange(3.0), 1.0), (np.arange(4.0), 2.5), None, (np.arange(1.0), -0.0)],
    "dicts": [
        {"u": np.arange(3.0), "t": 1.0},
        {"u": np.arange(3.0) + 1, "t": 2.0},
        None,
        {"t": 3, "u": None},
    ],
    "complex arrays": [np.array([1 + 2j, -0.0 - 3j]), np.array([3j, 1]), None, np.array([0j, 4])],
    "complex64, big-endian": [np.array([1 + 2j], dtype=">c8")] * 4,
    "float16": [np.array([1.5, -0.0, np.inf], dtype=np.float16)] * 3 + [None],
    "long double": [np.array([1.0, 1 / 3], dtype=np.longdouble)] * 4,
    "unicode arrays": [np.array(["ab", "é"]), np.array(["x", "yz"]), None, np.array(["", "q"])],
    "bytes arrays": [np.array([b"a\x00b", b""]), None, np.array([b"xyz", b"w"]), None],
    "dates": [np.array(["2020-01-01", "NaT"], dtype="M8[ns]")] * 4,
    "python complex": [1 + 2j, complex(-0.0, math.inf), None, 3j],
    "big ints": [2**70, -(2**90), 1, 0],
    "bytes": [b"", b"\x00\x01", None, b"abc"],
    "numpy scalars": [np.float16(1.5), np.complex64(1j), np.str_("abc"), np.int8(-3)],
    "mixed": [1.0, 2, True, None],
    "nested": [[1, [2.0, (None, np.arange(2))]], {"__pytams_tuple__": (1,)}, (), {}],
}
TEXT: dict[str, list[Any]] = {
    "strings in dicts": [{"name": "a", "x": 1.0}, {"name": "bé", "x": 2.0}, None, None],
    "paths in tuples": [(Path("/a"), 1), (pathlib.PurePosixPath("b"), 2), None, None],
}


@pytest.mark.parametrize("name", [*NATIVE, *TEXT])
def test_common_states_are_stored_natively_bit_for_bit(name: str, tmp_path: Path) -> None:
    states = {**NATIVE, **TEXT}[name]
    store = NetCDFStore(tmp_path / "run.tams")
    written = column_trajectory(K(0), states)
    store.write_trajectory(written)
    store.flush()
    assert "pickle" not in kinds_in(store.trajectory_file(K(0)))
    with netCDF4.Dataset(store.trajectory_file(K(0))) as ds:
        assert ds.data_model == ("NETCDF4" if name in TEXT else "NETCDF3_64BIT_DATA")
    back = NetCDFStore(tmp_path / "run.tams", read_only=True).read_trajectory(K(0))
    assert same(back.states, written.states)
    assert same(back.noises, written.noises)


DTYPES = ["<f8", ">f4", "f2", "c16", "<c8", "i1", ">u8", "?", "<U3", "S2", "M8[s]"]


def leaves() -> st.SearchStrategy[Any]:
    arrays = st.sampled_from(DTYPES).flatmap(
        lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, min_side=0))
    )
    return st.one_of(
        arrays,
        st.floats(),
        st.integers(),
        st.complex_numbers(),
        st.booleans(),
        st.binary(max_size=5),
    )


def nested() -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves(),
        lambda inner: st.one_of(
            st.tuples(inner, inner),
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(max_size=4), inner, max_size=3),
            st.none(),
        ),
        max_leaves=6,
    )


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(nested(), min_size=1, max_size=5))
def test_nested_states_round_trip_natively(states: list[Any]) -> None:
    root = Path(tempfile.mkdtemp(prefix="pytams-trust-")) / "run.tams"
    try:
        store = NetCDFStore(root)
        written = column_trajectory(K(1), states)
        store.write_trajectory(written)
        store.flush()
        assert "pickle" not in kinds_in(store.trajectory_file(K(1)))
        back = NetCDFStore(root, read_only=True).read_trajectory(K(1))
        assert same(back.states, written.states)
        assert same(back.noises, written.noises)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_only_exotic_values_are_pickled_and_read_with_the_opt_in(tmp_path: Path) -> None:
    states: list[Any] = [(np.arange(2.0), Exotic(1.0)), (np.arange(2.0), Exotic(2.0))]
    store = NetCDFStore(tmp_path / "run.tams")
    store.write_trajectory(column_trajectory(K(0), states))
    store.flush()
    path = store.trajectory_file(K(0))
    assert kinds_in(path) >= {"tree", "ndarray", "pickle"}  # only the Exotic leaf is pickled
    refused(lambda: NetCDFStore(tmp_path / "run.tams", read_only=True).read_trajectory(K(0)))
    trusted = NetCDFStore(tmp_path / "run.tams", read_only=True, allow_pickle=True)
    assert same(trusted.read_trajectory(K(0)).states[1][0], states[1][0])
    assert trusted.read_trajectory(K(0)).states[1][1] == Exotic(2.0)


# ---------------------------------------------------------------------- metadata
def test_metadata_is_plain_json_and_comes_back_exactly(tmp_path: Path) -> None:
    metadata = {
        "array": np.arange(6, dtype=">i4").reshape(2, 3),
        "complex array": np.array([1 + 2j, -0.0j]),
        "strings": np.array(["a", "bé"]),
        "scalar": np.float32(0.1),
        "path": Path("/data/run"),
        "pure path": pathlib.PureWindowsPath("c:/x"),
        "complex": 1 - 1j,
        "date": datetime.date(2026, 11, 27),
        "datetime": datetime.datetime(2026, 11, 27, 1, 2, 3, tzinfo=datetime.timezone.utc),
        "tuple": (1, (2.5, "x")),
        "looks like a tag": {"__pytams_pickle__": "not a pickle"},
        "nan": math.nan,
    }
    store = NetCDFStore(tmp_path / "run.tams")
    store.write_metadata(metadata)
    store.flush()
    with netCDF4.Dataset(tmp_path / "run.tams" / "tams.nc") as ds:
        text = ds.pytams_metadata
    json.loads(text)
    back = NetCDFStore(tmp_path / "run.tams", read_only=True).read_metadata()  # no opt-in
    assert back is not None
    for key, value in metadata.items():
        assert same(back[key], value), key


def test_metadata_without_a_json_form_is_refused_when_the_run_starts(tmp_path: Path) -> None:
    database = Database(NetCDFStore(tmp_path / "run.tams"))
    metadata = {"seed": 1, "config": {"model": {"callback": Exotic(1.0)}}}
    with pytest.raises(StorageError, match=r"metadata\.config\.model\.callback: .*Exotic"):
        database.start(metadata)
    with pytest.raises(StorageError, match=r"keys must be strings"):
        database.start({"seed": 1, "table": {1: 2}})
    assert not (tmp_path / "run.tams" / "tams.nc").exists()
    assert "__pytams_pickle__" not in to_json({"a": np.arange(2), "b": (1,)})


def test_old_pickled_metadata_needs_the_opt_in(marker: Path) -> None:
    blob = base64.b64encode(pickle.dumps(Payload(marker))).decode("ascii")
    text = json.dumps({"seed": 1, "x": {"__pytams_pickle__": blob}})
    refused(lambda: from_json(text))
    assert not marker.exists()
    from_json(text, allow_pickle=True)
    assert marker.exists()
