"""Lossless netCDF encoding of a trajectory column (noise or state) holding any values.

A column has one entry per snapshot, None where nothing is stored. Only the entries that are
present are written, along the dimension ``<name>_sample``; ``<name>_index`` gives their
snapshot indices unless they are all of them, all but the first, or every k-th from the first
(attribute ``pytams_present``: ``all``, ``all_but_first``, ``every k``, ``indexed``). The attribute
``pytams_kind`` says how to rebuild the Python values:

- ``ndarray``: numpy arrays of one shape and a numeric dtype, stacked into one variable
  (the original dtype in ``pytams_dtype``: bool and non-native byte orders are converted).
- ``scalar``: numpy scalars of one numeric dtype.
- ``float``, ``int``, ``bool``: Python numbers.
- ``str``, ``path``: strings (``pathlib`` paths); a string naming a file inside the database
  directory is stored relative to it (``<name>_relative``) and rebuilt against its location.
- ``pickle``: anything else, pickled into one byte variable with offsets.
"""

from __future__ import annotations

import itertools
import os
import pickle
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

import numpy as np

# dtypes netCDF-4 stores natively (bool and other byte orders are converted first)
_NATIVE_KINDS = "iuf"
_INT64 = (-(2**63), 2**63 - 1)


def _dtype_ok(dtype: np.dtype[Any]) -> bool:
    if dtype.kind == "b":
        return True
    return dtype.kind in _NATIVE_KINDS and dtype.itemsize in (1, 2, 4, 8) and dtype != np.float16


def classify(values: Sequence[Any]) -> str:
    """The kind of a column's present values (see the module docstring)."""
    if not values:
        return "none"
    first = values[0]
    if isinstance(first, np.ndarray):
        if (
            _dtype_ok(first.dtype)
            and (first.size > 0 or first.ndim == 0)
            and all(
                isinstance(v, np.ndarray) and v.shape == first.shape and v.dtype == first.dtype
                for v in values
            )
        ):
            return "ndarray"
        return "pickle"
    if isinstance(first, np.generic):
        if _dtype_ok(first.dtype) and all(
            isinstance(v, np.generic) and v.dtype == first.dtype for v in values
        ):
            return "scalar"
        return "pickle"
    for kind, cls in (("bool", bool), ("float", float), ("int", int), ("str", str)):
        if type(first) is cls:
            if not all(type(v) is cls for v in values):
                return "pickle"
            if kind == "int" and not all(_INT64[0] <= v <= _INT64[1] for v in values):
                return "pickle"
            if kind == "str" and not all(_encodable(v) for v in values):
                return "pickle"
            return kind
    if isinstance(first, PurePath) and all(type(v) is type(first) for v in values):
        return "path" if all(_encodable(str(v)) for v in values) else "pickle"
    return "pickle"


def holds_text(column: Sequence[Any]) -> bool:
    """Whether a column is stored as strings (which need a netCDF-4 file)."""
    return classify([value for value in column if value is not None]) in ("str", "path")


def _encodable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class PathRoots:
    """The database directory, as given (absolute) and resolved: roots of relative paths."""

    def __init__(self, directory: Path) -> None:
        self.roots = (os.path.abspath(directory), os.path.realpath(directory))

    def split(self, text: str) -> tuple[str, int]:
        """``(relative part, root number)`` of a path inside a root, else ``(text, 0)``."""
        for number, root in enumerate(self.roots, start=1):
            prefix = root.rstrip(os.sep) + os.sep
            if text.startswith(prefix) and len(text) > len(prefix):
                return text[len(prefix) :], number
        return text, 0

    def join(self, text: str, number: int) -> str:
        """Inverse of `split`."""
        if number == 0:
            return text
        return self.roots[number - 1].rstrip(os.sep) + os.sep + text


#: Data still to be written into variables already defined: ``(variable, values)`` pairs.
#: Defining every variable before writing any data keeps netCDF from rewriting the header
#: (and moving the data behind it) at each definition.
Writes = list[tuple[Any, Any]]


def define_column(
    ds: Any, name: str, column: Sequence[Any], roots: PathRoots | None, long_name: str
) -> Writes:
    """Define the column ``name`` (a list with None where absent); return its data writes."""
    index = [i for i, value in enumerate(column) if value is not None]
    values = [column[i] for i in index]
    kind = classify(values)
    n = len(column)
    if index == list(range(n)):
        present = "all"
    elif index == list(range(1, n)):
        present = "all_but_first"
    elif len(index) > 1 and index == list(range(0, n, index[1])):
        present = f"every {index[1]}"
    else:
        present = "indexed"
    attrs: dict[str, Any] = {"long_name": long_name, "pytams_kind": kind, "pytams_present": present}
    if kind == "none":
        ds.setncattr(f"pytams_{name}", "none")
        return []
    writes: Writes = []
    sample = f"{name}_sample"
    ds.createDimension(sample, len(values))
    if present == "indexed":
        var = ds.createVariable(f"{name}_index", "i8", (sample,), fill_value=False)
        var.long_name = f"index of the snapshot each {name} belongs to"
        writes.append((var, np.asarray(index, dtype=np.int64)))
    ds.setncattr(f"pytams_{name}", kind)
    if kind in ("ndarray", "scalar"):
        first = values[0]
        original = first.dtype
        # bool as bytes, in the byte order of the file (big-endian CDF-5): one copy of the data
        order = getattr(ds, "byte_order", "=")
        target = np.dtype(np.uint8) if original.kind == "b" else original.newbyteorder(order)
        if kind == "ndarray":
            stored = np.stack(values, dtype=target)
        else:
            stored = np.asarray(values, dtype=target)
        shape = first.shape if kind == "ndarray" else ()
        dims = (sample, *[f"{name}_dim_{axis}" for axis in range(len(shape))])
        for dim, size in zip(dims[1:], shape, strict=True):
            ds.createDimension(dim, size)
        var = ds.createVariable(name, stored.dtype, dims, fill_value=False, contiguous=True)
        attrs["pytams_dtype"] = original.str
        writes.append((var, stored))
    elif kind in ("float", "int", "bool"):
        dtype = {"float": np.float64, "int": np.int64, "bool": np.uint8}[kind]
        var = ds.createVariable(name, dtype, (sample,), fill_value=False)
        writes.append((var, np.asarray(values, dtype=dtype)))
    elif kind in ("str", "path"):
        texts = [str(v) for v in values]
        relative = [0] * len(texts)
        if roots is not None:
            for i, text in enumerate(texts):
                texts[i], relative[i] = roots.split(text)
        var = ds.createVariable(name, str, (sample,))
        writes.append((var, np.asarray(texts, dtype=object)))
        if any(relative):
            rel = ds.createVariable(f"{name}_relative", "i1", (sample,), fill_value=False)
            rel.setncatts(
                {
                    "long_name": f"whether each {name} is a path relative to the database "
                    "directory",
                    "flag_values": np.array([0, 1, 2], dtype=np.int8),
                    "flag_meanings": "as_is relative_to_database relative_to_resolved_database",
                }
            )
            writes.append((rel, np.asarray(relative, dtype=np.int8)))
        if kind == "path":
            attrs["pytams_path_type"] = type(values[0]).__name__
    else:
        return writes + _define_pickle(ds, name, values, attrs)
    var.setncatts(attrs)
    return writes


def _define_pickle(ds: Any, name: str, values: Sequence[Any], attrs: dict[str, Any]) -> Writes:
    blobs = [pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL) for v in values]
    offsets = np.cumsum([0, *[len(b) for b in blobs]], dtype=np.int64)
    ds.setncattr(f"pytams_{name}", "pickle")
    ds.createDimension(f"{name}_byte", int(offsets[-1]))
    ds.createDimension(f"{name}_offset", len(offsets))
    var = ds.createVariable(name, "u1", (f"{name}_byte",), fill_value=False, contiguous=True)
    off = ds.createVariable(f"{name}_offsets", "i8", (f"{name}_offset",), fill_value=False)
    var.setncatts({**attrs, "pytams_kind": "pickle", "comment": "Python pickles, one per sample"})
    return [(var, np.frombuffer(b"".join(blobs), dtype=np.uint8)), (off, offsets)]


def write_data(writes: Writes) -> None:
    """Write the data of variables defined before."""
    for var, values in writes:
        var[...] = values


def read_column(ds: Any, name: str, n: int, roots: PathRoots | None) -> list[Any]:
    """Read back the column ``name`` of ``n`` snapshots exactly as it was written."""
    column: list[Any] = [None] * n
    kind = ds.getncattr(f"pytams_{name}") if f"pytams_{name}" in ds.ncattrs() else "none"
    if kind == "none":
        return column
    var = ds.variables[name]
    present = var.getncattr("pytams_present")
    values: list[Any]
    if kind == "pickle":
        data = var[:].tobytes()
        offsets = ds.variables[f"{name}_offsets"][:].tolist()
        values = [pickle.loads(data[a:b]) for a, b in itertools.pairwise(offsets)]
    else:
        data = var[...]
        if kind in ("ndarray", "scalar"):
            original = np.dtype(var.getncattr("pytams_dtype"))
            if original.kind == "b":
                data = data.view(np.bool_)
            elif data.dtype != original:
                data = data.astype(original)
            if kind == "ndarray":
                values = [data[j, ...] for j in range(data.shape[0])]
            else:
                values = [data[j] for j in range(data.shape[0])]
        elif kind in ("float", "int"):
            values = data.tolist()
        elif kind == "bool":
            values = [bool(v) for v in data.tolist()]
        else:
            texts = [str(t) for t in data.tolist()]
            if f"{name}_relative" in ds.variables and roots is not None:
                relative = ds.variables[f"{name}_relative"][:].tolist()
                texts = [roots.join(t, r) for t, r in zip(texts, relative, strict=True)]
            values = [Path(t) for t in texts] if kind == "path" else texts
            if kind == "path" and var.getncattr("pytams_path_type") != "Path":
                import pathlib

                cls = getattr(pathlib, var.getncattr("pytams_path_type"), Path)
                values = [cls(t) for t in texts]
    if present == "all":
        index = list(range(n))
    elif present == "all_but_first":
        index = list(range(1, n))
    elif present.startswith("every "):
        index = list(range(0, n, int(present.split()[1])))
    else:
        index = ds.variables[f"{name}_index"][:].tolist()
    if len(index) != len(values) or (index and not 0 <= min(index) <= max(index) < n):
        msg = f"{name}: {len(values)} values for {len(index)} snapshot indices out of {n}"
        raise ValueError(msg)
    for i, value in zip(index, values, strict=True):
        column[i] = value
    return column
