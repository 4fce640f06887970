"""A small writer of netCDF classic files in the CDF-5 format, built in memory, written at once.

The netCDF library writes a classic file header again at every definition (each attribute,
each variable), which costs milliseconds per small file; HDF5 files cost about as much. A
database writes a file per trajectory and rewrites ``tams.nc`` at every iteration, so this
module builds the file (header, then each variable's data, big-endian) in memory and hands it
over as a few buffers for one write. Any netCDF reader (netCDF4, xarray, ncdump) reads it.

It offers the part of the ``netCDF4.Dataset`` interface the database's fill functions use, so
the same function fills a file for either writer. Only fixed-size dimensions, numeric
variables and attributes that are strings or numbers are supported: strings in variables need
netCDF-4 (the library).

Layout (the "CDF-5" netCDF classic format specification): magic ``CDF`` and the byte 5, the
record count, the dimension, global attribute and variable lists, then the data of each
variable in definition order, each padded to 4 bytes. Every count, length and offset is a big-endian
64-bit integer; list tags and type codes are 32-bit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DATA_MODEL = "NETCDF3_64BIT_DATA"
_MAGIC = b"CDF\x05"
_DIMENSION, _VARIABLE, _ATTRIBUTE = 0x0A, 0x0B, 0x0C
# netCDF type codes of numpy dtypes (NC_CHAR, 2, holds text attributes)
_TYPES = {
    "i1": 1,
    "i2": 3,
    "i4": 4,
    "f4": 5,
    "f8": 6,
    "u1": 7,
    "u2": 8,
    "u4": 9,
    "i8": 10,
    "u8": 11,
}
_CHAR = 2
_I32 = np.dtype(">i4")
_I64 = np.dtype(">i8")


class UnsupportedError(TypeError):
    """What the classic format cannot hold (strings in a variable, an unlimited dimension)."""


def _code(dtype: np.dtype[Any]) -> int:
    code = _TYPES.get(f"{dtype.kind}{dtype.itemsize}")
    if code is None:
        msg = f"the netCDF classic format has no type for {dtype}"
        raise UnsupportedError(msg)
    return code


def _pad(size: int) -> int:
    return -size % 4


@functools.lru_cache(maxsize=1024)
def _encoded_name(text: str) -> bytes:
    """A name as the header stores it: length, UTF-8 bytes, padding (names repeat: cached)."""
    raw = text.encode("utf-8")
    return len(raw).to_bytes(8, "big") + raw + b"\0" * _pad(len(raw))


class _Header:
    """Accumulates the big-endian header fields."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def i32(self, value: int) -> None:
        self.parts.append(int(value).to_bytes(4, "big", signed=True))

    def i64(self, value: int) -> None:
        self.parts.append(int(value).to_bytes(8, "big", signed=True))

    def name(self, text: str) -> None:
        self.parts.append(_encoded_name(text))

    def attributes(self, attrs: Mapping[str, Any]) -> None:
        if not attrs:
            self.i32(0)
            self.i64(0)
            return
        self.i32(_ATTRIBUTE)
        self.i64(len(attrs))
        for key, value in attrs.items():
            self.name(key)
            if isinstance(value, str):
                raw = value.encode("utf-8")
                self.i32(_CHAR)
                self.i64(len(raw))
                self.parts.append(raw + b"\0" * _pad(len(raw)))
                continue
            values = np.atleast_1d(np.asarray(value))
            if values.dtype.kind == "b":
                values = values.astype(np.int8)
            self.i32(_code(values.dtype))
            self.i64(values.size)
            raw = values.astype(values.dtype.newbyteorder(">")).tobytes()
            self.parts.append(raw + b"\0" * _pad(len(raw)))

    def to_bytes(self) -> bytes:
        return b"".join(self.parts)


class Variable:
    """A variable of a `Dataset` being built: attributes, then its data (set whole)."""

    def __init__(
        self, name: str, dtype: np.dtype[Any], dims: tuple[str, ...], shape: tuple[int, ...]
    ) -> None:
        self.name = name
        self.dtype = dtype
        self.dimensions = dims
        self.shape = shape
        self.attrs: dict[str, Any] = {}
        self.data: np.ndarray | None = None
        _code(dtype)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("name", "dtype", "dimensions", "shape", "attrs", "data"):
            object.__setattr__(self, key, value)
        else:
            self.attrs[key] = value

    def setncatts(self, attrs: Mapping[str, Any]) -> None:
        """Set several attributes."""
        self.attrs.update(attrs)

    def __setitem__(self, index: Any, values: Any) -> None:
        if index is not Ellipsis and index != slice(None):
            msg = "a variable of a CDF-5 file being built is written whole: var[...] = values"
            raise UnsupportedError(msg)
        data = np.asarray(values)
        if data.dtype != self.dtype and data.dtype != self.dtype.newbyteorder(">"):
            data = data.astype(self.dtype)
        if data.shape != self.shape:
            msg = f"variable {self.name}: values of shape {data.shape}, expected {self.shape}"
            raise ValueError(msg)
        self.data = data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class Dataset:
    """A CDF-5 netCDF file built in memory (the subset of ``netCDF4.Dataset`` pytams uses)."""

    data_model = DATA_MODEL
    byte_order = ">"  # what the file stores: data given in this order is not copied again

    def __init__(self) -> None:
        self.dimensions: dict[str, int] = {}
        self.variables: dict[str, Variable] = {}
        self.attrs: dict[str, Any] = {}

    def setncattr(self, key: str, value: Any) -> None:
        """Set a global attribute."""
        self.attrs[key] = value

    def setncatts(self, attrs: Mapping[str, Any]) -> None:
        """Set several global attributes."""
        self.attrs.update(attrs)

    def set_fill_off(self) -> None:
        """Nothing to do: every variable is written whole."""

    def createDimension(self, name: str, size: int | None) -> None:  # noqa: N802 (netCDF4's name)
        """Add a fixed-size dimension."""
        if size is None:
            msg = "unlimited dimensions are not supported by this writer"
            raise UnsupportedError(msg)
        self.dimensions[name] = int(size)

    def createVariable(  # noqa: N802 (netCDF4's name)
        self, name: str, dtype: Any, dims: Sequence[str] = (), **_: Any
    ) -> Variable:
        """Add a variable over existing dimensions (fill values and chunking do not apply)."""
        if dtype is str:
            msg = "string variables need netCDF-4"
            raise UnsupportedError(msg)
        shape = tuple(self.dimensions[d] for d in dims)
        variable = Variable(name, np.dtype(dtype), tuple(dims), shape)
        self.variables[name] = variable
        return variable

    def buffers(self) -> list[bytes | memoryview]:
        """The file's bytes: the header, then each variable's data (padded to 4 bytes)."""
        missing = [name for name, var in self.variables.items() if var.data is None]
        if missing:
            msg = f"variables without data: {', '.join(missing)}"
            raise ValueError(msg)
        dim_ids = {name: i for i, name in enumerate(self.dimensions)}
        sizes = [var.nbytes + _pad(var.nbytes) for var in self.variables.values()]
        header, begin_slots = self._header(dim_ids, sizes)
        offset = sum(len(part) for part in header.parts)
        for slot, size in zip(begin_slots, sizes, strict=True):
            header.parts[slot] = offset.to_bytes(8, "big")
            offset += size
        out: list[bytes | memoryview] = [header.to_bytes()]
        for var in self.variables.values():
            data = var.data
            assert data is not None
            big = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder(">"))
            out.append(big.reshape(-1).view(np.uint8).data)
            if _pad(var.nbytes):
                out.append(b"\0" * _pad(var.nbytes))
        return out

    def _header(
        self, dim_ids: Mapping[str, int], sizes: Sequence[int]
    ) -> tuple[_Header, list[int]]:
        """The header, and the positions in its parts of the data offsets (left at 0)."""
        h = _Header()
        begin_slots: list[int] = []
        h.parts.append(_MAGIC)
        h.i64(0)  # records: there is no unlimited dimension
        if self.dimensions:
            h.i32(_DIMENSION)
            h.i64(len(self.dimensions))
            for name, size in self.dimensions.items():
                h.name(name)
                h.i64(size)
        else:
            h.i32(0)
            h.i64(0)
        h.attributes(self.attrs)
        if self.variables:
            h.i32(_VARIABLE)
            h.i64(len(self.variables))
            for (name, var), size in zip(self.variables.items(), sizes, strict=True):
                h.name(name)
                h.i64(len(var.dimensions))
                for dim in var.dimensions:
                    h.i64(dim_ids[dim])
                h.attributes(var.attrs)
                h.i32(_code(var.dtype))
                h.i64(size)
                begin_slots.append(len(h.parts))
                h.i64(0)
        else:
            h.i32(0)
            h.i64(0)
        return h, begin_slots

    def write(self, path: Path) -> None:
        """Write the file to ``path`` (which must not exist)."""
        with open(path, "xb") as file:
            for buffer in self.buffers():
                file.write(buffer)
