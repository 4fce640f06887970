"""The database as a scientific data product: self-describing, recomputable, CF-compliant.

Everything a paper needs is in the files: a Python that never imports pytams recomputes the
estimate, the exceedance curve and a weighted average from them with xarray alone; every
variable has a long_name (and units where one applies); a CF checker finds no fault.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from pytams.core import TAMS, TAMSResult
from pytams.core.curve import RunHistory
from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.io import _cdf5, open_database
from pytams.io._attributes import cf_time_units, run_attributes, toml_text
from pytams.io._columns import PathRoots
from pytams.io._trajectory_file import fill_trajectory_file
from tests.io.ou import ou_config

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

LEVELS = [0.3, 0.6, 0.9, 1.0]

# run by a Python that never imports pytams: the database's files and xarray only
RECOMPUTE = """
import json, sys
from pathlib import Path
import numpy as np
import xarray as xr

path, levels = Path(sys.argv[1]), json.loads(sys.argv[2])
with xr.open_dataset(path / "tams.nc", decode_times=False) as main:
    n = int(main.attrs["ntrajectories"])
    after = main["weight"].values                  # W_{j+1}, one row per iteration
    counts = main["killed_count"].values           # l_j
    kills = main["kills"].values                   # killed slot, generation, parent slot, gen.
    final = main["ensemble_generation"].values     # generation of each slot's trajectory
    stored = float(main.attrs["probability"])
before = np.concatenate([[1.0], after])            # W_j before iteration j
weight = {}                                        # the weight of every trajectory
killed_at = np.repeat(np.arange(len(counts)), counts)
for (slot, generation, _, _), j in zip(kills, killed_at):
    weight[(int(slot), int(generation))] = before[j] / n
for slot, generation in enumerate(final):
    weight[(slot, int(generation))] = before[-1] / n
maximum, converged = {}, {}
for file in sorted((path / "trajectories").glob("*.nc")):
    with xr.open_dataset(file, decode_times=False) as trajectory:
        slot, generation = map(int, trajectory.attrs["pytams_key"].split("-"))
        maximum[(slot, generation)] = float(trajectory.attrs["pytams_max_score"])
        converged[(slot, generation)] = bool(trajectory.attrs["pytams_converged"])
keys = sorted(weight)
w = np.array([weight[k] for k in keys])
q = np.array([maximum[k] for k in keys])
reached = sum(converged[(slot, int(g))] for slot, g in enumerate(final))
print(json.dumps({
    "probability": float(before[-1] * reached / n),
    "stored_probability": stored,
    "total_weight": float(w.sum()),
    "curve": [float(w[q >= a].sum()) for a in levels],
    "mean_max_score": float((w * q).sum() / w.sum()),
    "imported_pytams": any(m == "pytams" or m.startswith("pytams.") for m in sys.modules),
}))
assert "pytams" not in sys.modules
"""


def run(path: Path, **tams: Any) -> TAMSResult:
    config = ou_config(path, **tams)
    config["model"]["time_units"] = "days"
    config["trajectory"]["store_state_every"] = 5
    return TAMS(None, config).run()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TAMSResult]:
    path = tmp_path_factory.mktemp("product") / "run.tams"
    return path, run(path, kills_per_iteration=2)


def recompute(path: Path) -> dict[str, Any]:
    """The numbers a user gets from the files alone (a subprocess that never imports pytams)."""
    done = subprocess.run(
        [sys.executable, "-c", RECOMPUTE, str(path), json.dumps(LEVELS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_files_alone_give_the_estimate_the_curve_and_weighted_averages(
    finished: tuple[Path, TAMSResult],
) -> None:
    path, result = finished
    numbers = recompute(path)
    assert not numbers["imported_pytams"]
    assert 0.0 < result.probability < 1.0
    assert numbers["probability"] == pytest.approx(result.probability, rel=1e-12)
    assert numbers["stored_probability"] == result.probability
    assert numbers["total_weight"] == pytest.approx(1.0, rel=1e-12)
    history = RunHistory(open_database(path))
    curve = history.exceedance_curve(LEVELS)
    np.testing.assert_allclose(numbers["curve"], curve.probability, rtol=1e-12)
    assert numbers["curve"][-1] == pytest.approx(result.probability, rel=1e-12)
    mean = history.all_trajectories().average(lambda t: t.max_score)
    assert numbers["mean_max_score"] == pytest.approx(mean, rel=1e-12)


def test_the_view_holds_the_weights_and_the_root_ancestors(
    finished: tuple[Path, TAMSResult],
) -> None:
    path, result = finished
    db = open_database(path)
    history = RunHistory(db)
    ds = db.to_xarray(archived=True, states=False)
    keys = ds["trajectory"].values.tolist()
    weights = dict(zip(keys, ds["trajectory_weight"].values.tolist(), strict=True))
    assert weights == pytest.approx({str(k): w for k, w in history.weights.items()}, rel=1e-15)
    assert float(ds["trajectory_weight"].sum()) == pytest.approx(1.0, rel=1e-12)
    w, q = ds["trajectory_weight"].values, ds["max_score"].values
    curve = history.exceedance_curve(LEVELS)
    np.testing.assert_allclose([w[q >= a].sum() for a in LEVELS], curve.probability, rtol=1e-12)
    reactive = ds["trajectory_weight"].where(ds["converged"]).sum()
    assert float(reactive) == pytest.approx(result.probability, rel=1e-12)
    # the root ancestor follows the parent chain back to the initial ensemble
    parent = dict(zip(keys, ds["parent"].values.tolist(), strict=True))
    root = dict(zip(keys, ds["root_ancestor"].values.tolist(), strict=True))
    for key in parent:
        first = key
        while parent[first]:
            first = parent[first]
        assert first.endswith("-00000")
        assert root[key] == int(first.split("-")[0])
    killed = ds["killed_iteration"].values
    assert ((killed >= 0) == ~ds["in_ensemble"].values).all()
    ensemble = db.to_xarray(states=False)
    assert ensemble.sizes["trajectory"] == 16
    assert (ensemble["trajectory_weight"].values == db.weight / 16).all()


def test_every_variable_has_a_long_name_and_units_where_they_apply(
    finished: tuple[Path, TAMSResult],
) -> None:
    path, _ = finished
    files = [path / "tams.nc", *sorted((path / "trajectories").glob("*.nc"))[:3]]
    views = [open_database(path).to_xarray(archived=True)]
    for file in files:
        with xr.open_dataset(file, decode_times=False) as ds:
            views.append(ds.load())
    for ds in views:
        for name, variable in ds.variables.items():
            assert variable.attrs.get("long_name"), (name, ds.attrs["title"])
        for name in ("score", "max_score", "level", "weight", "trajectory_weight"):
            if name in ds:
                assert ds[name].attrs["units"] == "1"
    view = views[0]
    assert view["time"].attrs["units"] == "days since 1970-01-01 00:00:00"
    assert view["model_time"].attrs["units"] == "days since 1970-01-01 00:00:00"
    assert views[2]["time"].attrs["units"] == "days since 1970-01-01 00:00:00"


def test_a_trajectory_file_gives_model_time_in_its_units(tmp_path: Path) -> None:
    trajectory = Trajectory(
        key=TrajectoryKey(3, 1),
        parent=TrajectoryKey(0),
        branch_index=2,
        times=[0.0, 0.5, 1.0],
        scores=[0.0, 0.2, 0.1],
        noises=[0.0, 1.0, -1.0],
        states=[0.0, None, 0.3],
        model_steps=2,
    )
    ds = _cdf5.Dataset()
    fill_trajectory_file(ds, trajectory, PathRoots(tmp_path), time_units="days")
    ds.write(tmp_path / "file.nc")
    with xr.open_dataset(tmp_path / "file.nc") as opened:
        assert opened["time"].encoding["units"] == "days since 1970-01-01 00:00:00"
        assert opened["time"].attrs["long_name"] == "model time"
        decoded = opened["time"].values - opened["time"].values[0]
        assert (decoded / np.timedelta64(1, "D")).tolist() == [0.0, 0.5, 1.0]


def test_the_global_attributes_describe_the_run_and_its_outcome(
    finished: tuple[Path, TAMSResult],
) -> None:
    path, result = finished
    with xr.open_dataset(path / "tams.nc") as main:
        on_disk = dict(main.attrs)
    view = open_database(path).to_xarray().attrs
    for attrs in (on_disk, view):
        assert attrs["ntrajectories"] == 16
        assert attrs["kills_per_iteration"] == 2
        assert attrs["end_time"] == 1.0
        assert attrs["step_size"] == 0.02
        assert attrs["target_score"] == 1.0
        assert attrs["time_units"] == "days"
        assert str(attrs["seed"]) == "11"
        assert attrs["model"].endswith("ou.py:OrnsteinUhlenbeck")
        assert attrs["pytams_core_version"]
        assert attrs["pytams_io_version"]
        assert attrs["probability"] == result.probability
        assert attrs["std_error"] == result.std_error
        assert (attrs["ci_low"], attrs["ci_high"]) == (result.ci_low, result.ci_high)
        assert attrs["stop_reason"] == str(result.stop_reason)
        config = tomllib.loads(attrs["configuration"])
        assert config["tams"]["ntrajectories"] == 16
        assert config["model"] == {"barrier": 1.6, "time_units": "days"}
        assert config["trajectory"]["step_size"] == 0.02


def test_an_outcome_is_only_claimed_once_stored() -> None:
    metadata = {"config": {"tams": {"ntrajectories": 4}}, "seed": 2**70, "model": "m:M"}
    attrs = run_attributes(metadata, {})
    assert "probability" not in attrs
    assert attrs["seed"] == str(2**70)
    assert attrs["time_units"] == "1"
    outcome = {"stop_reason": "target_reached", "probability": 0.5, "extra": [1], "done": True}
    attrs = run_attributes({**metadata, "outcome": outcome}, {})
    assert attrs["probability"] == 0.5
    assert attrs["outcome_done"] == 1
    assert "outcome_extra" not in attrs
    assert cf_time_units("1") == "1"
    assert cf_time_units("s") == "s since 1970-01-01 00:00:00"
    assert cf_time_units("days since 2000-01-01") == "days since 2000-01-01"


def test_the_configuration_text_is_toml() -> None:
    config: dict[str, dict[str, Any]] = {
        "tams": {"ntrajectories": 4, "walltime": float("inf"), "deterministic": False},
        "model": {"name": 'a "quoted"\nvalue é\x7f', "list": [1, 2.5, "x"], "none": None},
        "dask": {"backend": "slurm", "slurm": {"cores": 2, "job_extra": ["--a"]}},
        "empty": {},
        "weird key": {"a.b": {"inline": 1}},
    }
    parsed = tomllib.loads(toml_text(config))
    del config["model"]["none"]
    assert parsed == config


def test_the_files_pass_the_cf_checker(finished: tuple[Path, TAMSResult]) -> None:
    # imported by name: neither package ships type information
    runner = importlib.import_module("compliance_checker.runner")
    path, _ = finished
    suite = runner.CheckSuite()
    with warnings.catch_warnings():  # its deprecated SOS checkers warn when loaded
        warnings.simplefilter("ignore", DeprecationWarning)
        suite.load_all_available_checkers()
    db = open_database(path)
    clone = next(t for t in db.archived() if t.parent is not None)
    files = [path / "tams.nc"]
    for trajectory in (db.trajectory(TrajectoryKey(0)), clone):
        files.append(db.store.trajectory_file(trajectory.key))  # as the run wrote them
    for file in files:
        ds = suite.load_dataset(str(file))
        try:
            results, errors = suite.run_all(ds, ["cf:1.10"], [], [])["cf:1.10"]
        finally:
            ds.close()
        assert not errors, (file, errors)
        failed = [
            (r.name, r.msgs)
            for r in results
            if (isinstance(r.value, tuple) and r.value[0] < r.value[1]) or r.value is False
        ]
        assert not failed, (file, failed)
        assert sum(1 for r in results if r.value) > 10  # the checks did run


def test_cf_xarray_finds_the_coordinates(finished: tuple[Path, TAMSResult]) -> None:
    importlib.import_module("cf_xarray")  # registers the .cf accessor

    path, _ = finished
    view = open_database(path).to_xarray()
    assert view.cf.coordinates["time"] == ["time"]
    assert view.cf.axes["T"] == ["time"]
    assert view.cf["time"].attrs["units"].startswith("days since")
    with xr.open_dataset(path / "trajectories" / "000000-00000.nc") as ds:
        assert ds.cf.coordinates["time"] == ["time"]
        assert ds.cf["T"].name == "time"
