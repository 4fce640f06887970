"""The in-memory CDF-5 writer: the netCDF library and xarray read its files bit for bit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import netCDF4
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytams.io import _cdf5

DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", ">f8", "<i4"]
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
ATTRIBUTE_VALUES = st.one_of(
    TEXT,
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.integers(-128, 127).map(np.int8),
    st.floats(allow_nan=False),
    hnp.arrays(np.int8, st.integers(1, 5)),
    hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(allow_nan=False)),
)


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, Any]:
    """Dimensions, global attributes and variables (with data and attributes)."""
    dim_names = draw(st.lists(NAMES, min_size=0, max_size=4, unique=True))
    dims = {name: draw(st.integers(1, 7)) for name in dim_names}
    variables = {}
    for name in draw(st.lists(NAMES.map(lambda n: "v_" + n), max_size=5, unique=True)):
        shape_dims = draw(st.lists(st.sampled_from(dim_names), max_size=3)) if dims else []
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        shape = tuple(dims[d] for d in shape_dims)
        variables[name] = {
            "dims": tuple(shape_dims),
            "data": draw(hnp.arrays(dtype, shape)),
            "attrs": draw(st.dictionaries(NAMES, ATTRIBUTE_VALUES, max_size=3)),
        }
    return {
        "dims": dims,
        "attrs": draw(st.dictionaries(NAMES, ATTRIBUTE_VALUES, max_size=6)),
        "variables": variables,
    }


def build(spec: dict[str, Any]) -> _cdf5.Dataset:
    ds = _cdf5.Dataset()
    ds.setncatts(spec["attrs"])
    for name, size in spec["dims"].items():
        ds.createDimension(name, size)
    for name, var in spec["variables"].items():
        created = ds.createVariable(name, var["data"].dtype, var["dims"])
        created.setncatts(var["attrs"])
    for name, var in spec["variables"].items():
        ds.variables[name][...] = var["data"]
    return ds


def same_attribute(read: Any, written: Any) -> bool:
    if isinstance(written, str):
        return bool(read == written)
    back = np.atleast_1d(np.asarray(read))
    expected = np.atleast_1d(np.asarray(written))
    return back.dtype == expected.dtype and back.tobytes() == expected.tobytes()


@settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(datasets())
def test_the_netcdf_library_reads_every_value_bit_for_bit(spec: dict[str, Any]) -> None:
    path = Path(tempfile.mkdtemp(prefix="pytams-cdf5-")) / "file.nc"
    build(spec).write(path)
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_maskandscale(False)
        assert ds.data_model == "NETCDF3_64BIT_DATA"
        assert {n: len(d) for n, d in ds.dimensions.items()} == spec["dims"]
        assert ds.ncattrs() == list(spec["attrs"])
        for key, value in spec["attrs"].items():
            assert same_attribute(ds.getncattr(key), value), key
        assert list(ds.variables) == list(spec["variables"])
        for name, var in spec["variables"].items():
            read = ds.variables[name]
            assert read.dimensions == var["dims"]
            data = read[...]
            written = var["data"]
            assert data.dtype.newbyteorder("=") == written.dtype.newbyteorder("=")
            assert data.shape == written.shape
            assert data.astype(written.dtype).tobytes() == written.tobytes()
            for key, value in var["attrs"].items():
                assert same_attribute(read.getncattr(key), value), (name, key)
    path.unlink()


def test_xarray_opens_a_file() -> None:
    ds = _cdf5.Dataset()
    ds.setncatts({"title": "états", "version": np.int32(1)})
    ds.createDimension("time", 3)
    ds.createDimension("x", 2)
    time = ds.createVariable("time", "f8", ("time",))
    time.units = "1"
    state = ds.createVariable("state", "f4", ("time", "x"))
    state.long_name = "a state"
    time[...] = [0.0, 0.5, 1.0]
    state[...] = np.arange(6, dtype=np.float32).reshape(3, 2)
    path = Path(tempfile.mkdtemp(prefix="pytams-cdf5-")) / "file.nc"
    ds.write(path)
    with xr.open_dataset(path, engine="netcdf4") as opened:
        assert opened.attrs["title"] == "états"
        assert opened["state"].dtype == np.float32
        assert opened["state"].attrs["long_name"] == "a state"
        np.testing.assert_array_equal(opened["state"].values, np.arange(6).reshape(3, 2))
        np.testing.assert_array_equal(opened["time"].values, [0.0, 0.5, 1.0])


def test_what_the_classic_format_cannot_hold_is_refused() -> None:
    ds = _cdf5.Dataset()
    ds.createDimension("x", 2)
    with pytest.raises(_cdf5.UnsupportedError, match="string variables need netCDF-4"):
        ds.createVariable("s", str, ("x",))
    with pytest.raises(_cdf5.UnsupportedError, match="no type for complex128"):
        ds.createVariable("c", np.complex128, ("x",))
    with pytest.raises(_cdf5.UnsupportedError, match="unlimited"):
        ds.createDimension("t", None)
    var = ds.createVariable("v", "f8", ("x",))
    with pytest.raises(_cdf5.UnsupportedError, match="written whole"):
        var[0] = 1.0
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(2,\)"):
        var[...] = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="variables without data: v"):
        ds.buffers()


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "file.nc").write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        _cdf5.Dataset().write(tmp_path / "file.nc")
    assert (tmp_path / "file.nc").read_bytes() == b"precious"
