"""Lossless netCDF encoding of a trajectory column (noise or state) holding any values.

A column has one entry per snapshot, None where nothing is stored. Only the entries that are
present are written, along the dimension ``<name>_sample``; ``<name>_index`` gives their
snapshot indices unless they are all of them, all but the first, or every k-th from the first
(attribute ``pytams_present``: ``all``, ``all_but_first``, ``every k``, ``indexed``). The attribute
``pytams_kind`` says how to rebuild the Python values:

- ``ndarray``: numpy arrays of one shape and dtype, stacked into one variable; ``scalar``:
  numpy scalars of one dtype. The dtype is in ``pytams_dtype``, and ``pytams_storage`` says how
  it is stored: ``native`` (numbers netCDF has, in the file's byte order), ``bool`` (as bytes),
  ``complex`` (real and imaginary parts on a last axis) or ``bytes`` (each element's raw bytes
  on a last axis: float16, long double, strings, dates).
- ``ragged``: numpy arrays of one dtype but different (or empty) shapes, flattened into one
  variable; ``<name>_shape`` holds each array's shape (-1 past its number of axes).
- ``float``, ``int``, ``bool``, ``complex``: Python numbers (complex as stored above);
  ``bigint``: Python ints, some beyond 64 bits, as little-endian two's complement bytes.
- ``bytes``: Python bytes. Bytes variables hold the samples back to back; ``<name>_offsets``
  says where each begins.
- ``str``, ``path``: strings (``pathlib`` paths); a string naming a file inside the database
  directory is stored relative to it (``<name>_relative``) and rebuilt against its location.
- ``tree``: tuples, lists, dicts with string keys and None, holding values of the kinds above,
  or values of different kinds. The variable gives each sample's structure, a number into the
  JSON list ``pytams_structures`` (``["tuple", [...]]``, ``["list", [...]]``, ``["dict", [[key,
  ...], ...]]``, ``["none"]``, or a leaf number ``j``); leaf ``j`` is the column
  ``<name>_leaf_<j>``, present in the samples whose structure holds it.
- ``pickle``: what no kind above holds (objects of user classes, object arrays), pickled into
  a bytes variable. Reading it runs code: only a store that trusts the database reads it
  (`pytams.io._trust`).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np

from pytams.io import _trust
from pytams.io._metadata import PATH_TYPES

_INT64 = (-(2**63), 2**63 - 1)
_MAX_DEPTH = 32  # containers nested deeper are pickled whole
_NUMBERS = {"bool": np.uint8, "int": np.int64, "float": np.float64}
_NO_TEXT = frozenset({float, int, bool, complex, bytes, np.ndarray})  # types never stored as text


@functools.lru_cache(maxsize=256)
def _storage(dtype: np.dtype[Any]) -> str | None:
    """How an array of ``dtype`` is stored (see the module docstring), None if it cannot be."""
    if dtype.hasobject or dtype.itemsize == 0 or np.dtype(dtype.str) != dtype:
        return None  # objects, structured and sub-array dtypes
    if dtype.kind == "b":
        return "bool"
    if (dtype.kind in "iu" and dtype.itemsize in (1, 2, 4, 8)) or (
        dtype.kind == "f" and dtype.itemsize in (4, 8)
    ):
        return "native"
    if dtype.kind == "c" and dtype.itemsize in (8, 16):
        return "complex"
    return "bytes"


def _leaf_token(value: Any) -> str:
    """What decides a value's leaf kind: its type, with the dtype of numpy values."""
    kind = type(value)
    if kind in (bool, int, float, complex, bytes):
        return kind.__name__
    if kind is str:
        return "str" if _encodable(value) else "object"
    if isinstance(value, PurePath):
        plain = kind.__name__ in PATH_TYPES and _encodable(str(value))
        return f"path:{kind.__name__}" if plain else "object"
    if kind is np.ndarray and _storage(value.dtype) is not None:
        return f"ndarray:{value.dtype.str}"
    if isinstance(value, np.generic) and _storage(value.dtype) and kind is value.dtype.type:
        return f"scalar:{value.dtype.str}"
    return "object"


def _split(value: Any, depth: int = 0) -> tuple[Any, list[Any]]:
    """A value's structure (JSON-ready; leaf tokens at the leaves) and its leaves, in order."""
    kind = type(value)
    if value is None:
        return ["none"], []
    if depth < _MAX_DEPTH and kind in (tuple, list):
        parts = [_split(v, depth + 1) for v in value]
        return [kind.__name__, [s for s, _ in parts]], [x for _, xs in parts for x in xs]
    if depth < _MAX_DEPTH and kind is dict and all(type(k) is str for k in value):
        parts = [_split(v, depth + 1) for v in value.values()]
        pairs = [[k, s] for k, (s, _) in zip(value, parts, strict=True)]
        return ["dict", pairs], [x for _, xs in parts for x in xs]
    return _leaf_token(value), [value]


def _leaf_kind(token: str, values: Sequence[Any]) -> str:
    """The kind of a column whose values are all leaves of one token."""
    if token == "int":
        return "int" if all(_INT64[0] <= v <= _INT64[1] for v in values) else "bigint"
    if token.startswith("path:"):
        return "path"
    if token.startswith("ndarray:"):
        shape = values[0].shape
        same = values[0].size > 0 and all(v.shape == shape for v in values)
        return "ndarray" if same else "ragged"
    if token.startswith("scalar:"):
        return "scalar"
    return "pickle" if token == "object" else token


def classify(values: Sequence[Any]) -> str:
    """The kind of a column's present values (see the module docstring)."""
    if not values:
        return "none"
    kind = type(values[0])
    if all(type(v) is kind for v in values):
        quick = _quick_kind(values)
        if quick is not None:
            return quick
    first = _split(values[0])[0]
    if isinstance(first, str) and all(_split(v)[0] == first for v in values[1:]):
        return _leaf_kind(first, values)
    return "tree"


def _quick_kind(values: Sequence[Any]) -> str | None:
    """The kind of values of one type when it is quick to tell (the common columns), or None."""
    first = values[0]
    kind = type(first)
    if kind in (bool, float, complex, bytes):
        return kind.__name__
    if kind is int:
        return _leaf_kind("int", values)
    if kind is np.ndarray and _storage(first.dtype) is not None:
        dtype = first.dtype
        return _leaf_kind("ndarray:", values) if all(v.dtype == dtype for v in values) else None
    return None


def holds_text(column: Sequence[Any]) -> bool:
    """Whether a column stores strings (which need a netCDF-4 file)."""
    return any(
        _has_text(_split(value)[0])
        for value in column
        if value is not None and type(value) not in _NO_TEXT and not isinstance(value, np.generic)
    )


def _has_text(structure: Any) -> bool:
    if isinstance(structure, str):
        return structure == "str" or structure.startswith("path:")
    if structure[0] == "dict":
        return any(_has_text(s) for _, s in structure[1])
    return structure[0] != "none" and any(_has_text(s) for s in structure[1])


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


def _present(index: list[int], n: int) -> str:
    """The ``pytams_present`` attribute of a column present at ``index`` of ``n``."""
    if index == list(range(n)):
        return "all"
    if index == list(range(1, n)):
        return "all_but_first"
    if len(index) > 1 and index == list(range(0, n, index[1])):
        return f"every {index[1]}"
    return "indexed"


def define_column(
    ds: Any, name: str, column: Sequence[Any], roots: PathRoots | None, long_name: str
) -> Writes:
    """Define the column ``name`` (a list with None where absent); return its data writes."""
    index = [i for i, value in enumerate(column) if value is not None]
    values = [column[i] for i in index]
    kind = classify(values)
    ds.setncattr(f"pytams_{name}", kind)
    if kind == "none":
        return []
    present = _present(index, len(column))
    sample = f"{name}_sample"
    ds.createDimension(sample, len(values))
    writes: Writes = []
    if present == "indexed":
        var = ds.createVariable(f"{name}_index", "i8", (sample,), fill_value=False)
        var.long_name = f"index of the snapshot each {name} belongs to"
        writes.append((var, np.asarray(index, dtype=np.int64)))
    attrs: dict[str, Any] = {"long_name": long_name, "pytams_kind": kind, "pytams_present": present}
    var, more = _DEFINE[kind](ds, name, values, roots, attrs)
    var.setncatts(attrs)
    return writes + more


Defined = tuple[Any, Writes]  # the column's main variable (its attributes not yet set), writes


def _define_array(
    ds: Any, name: str, values: Sequence[Any], roots: PathRoots | None, attrs: dict[str, Any]
) -> Defined:
    """Kinds ``ndarray`` and ``scalar``: the values stacked on a first axis."""
    stacked = np.stack([np.asarray(v) for v in values], dtype=values[0].dtype)
    dims = (f"{name}_sample", *[f"{name}_dim_{axis}" for axis in range(stacked.ndim - 1)])
    for dim, size in zip(dims[1:], stacked.shape[1:], strict=True):
        ds.createDimension(dim, size)
    return _define_stored(ds, name, stacked, dims, attrs)


def _define_ragged(
    ds: Any, name: str, values: Sequence[Any], roots: PathRoots | None, attrs: dict[str, Any]
) -> Defined:
    """Kind ``ragged``: the arrays flattened back to back, and a table of their shapes."""
    dtype = values[0].dtype
    rank = max(v.ndim for v in values)
    shapes = np.full((len(values), rank), -1, dtype=np.int64)
    for j, value in enumerate(values):
        shapes[j, : value.ndim] = value.shape
    flat = np.concatenate([v.reshape(-1) for v in values], dtype=dtype)
    if flat.size == 0:  # a netCDF dimension of length 0 would be unlimited
        flat = np.zeros(1, dtype=dtype)
    ds.createDimension(f"{name}_element", flat.size)
    var, writes = _define_stored(ds, name, flat, (f"{name}_element",), attrs)
    ds.createDimension(f"{name}_rank", rank)
    dims = (f"{name}_sample", f"{name}_rank")
    table = ds.createVariable(f"{name}_shape", "i8", dims, fill_value=False)
    table.long_name = f"shape of each {name} (-1 past its number of axes)"
    return var, [*writes, (table, shapes)]


def _define_stored(
    ds: Any, name: str, array: np.ndarray, dims: tuple[str, ...], attrs: dict[str, Any]
) -> Defined:
    """A variable holding ``array`` over ``dims`` (and an axis its storage may add)."""
    storage = _storage(array.dtype)
    assert storage is not None
    stored = _to_stored(array, storage, getattr(ds, "byte_order", "="))
    if stored.ndim > array.ndim:
        extra = f"{name}_{'real_imag' if storage == 'complex' else 'element_byte'}"
        ds.createDimension(extra, stored.shape[-1])
        dims = (*dims, extra)
    var = ds.createVariable(name, stored.dtype, dims, fill_value=False, contiguous=True)
    attrs |= {"pytams_dtype": array.dtype.str, "pytams_storage": storage}
    return var, [(var, stored)]


def _to_stored(array: np.ndarray, storage: str, order: Literal["<", ">", "="]) -> np.ndarray:
    """``array`` as its variable holds it (in byte order ``order``)."""
    if storage == "bool":
        return array.view(np.uint8)
    if storage == "native":
        return array.astype(array.dtype.newbyteorder(order), copy=False)
    elements = np.ascontiguousarray(array).reshape(*array.shape, 1)
    if storage == "complex":
        native = elements.astype(elements.dtype.newbyteorder("="), copy=False)
        parts = native.view(np.dtype(f"f{array.dtype.itemsize // 2}"))
        return parts.astype(parts.dtype.newbyteorder(order), copy=False)
    return elements.view(np.uint8)


def _from_stored(data: np.ndarray, storage: str, dtype: np.dtype[Any]) -> np.ndarray:
    """Inverse of `_to_stored`: the array of ``dtype`` a variable's data holds."""
    if storage == "bool":
        return data.view(np.bool_)
    if storage == "native":
        return data if data.dtype == dtype else data.astype(dtype)
    if storage == "complex":
        parts = np.ascontiguousarray(data, dtype=np.dtype(f"f{dtype.itemsize // 2}"))
        numbers: np.ndarray = parts.view(dtype.newbyteorder("="))[..., 0]
        return numbers.astype(dtype, copy=False)
    if storage == "bytes":
        elements: np.ndarray = np.ascontiguousarray(data, dtype=np.uint8).view(dtype)[..., 0]
        return elements
    msg = f"unknown storage {storage!r}"
    raise ValueError(msg)


def _define_number(
    ds: Any, name: str, values: Sequence[Any], roots: PathRoots | None, attrs: dict[str, Any]
) -> Defined:
    """Kinds ``float``, ``int``, ``bool`` and ``complex``: Python numbers."""
    if attrs["pytams_kind"] == "complex":
        array = np.asarray(values, dtype=np.complex128)
        return _define_stored(ds, name, array, (f"{name}_sample",), attrs)
    dtype = _NUMBERS[attrs["pytams_kind"]]
    var = ds.createVariable(name, dtype, (f"{name}_sample",), fill_value=False)
    return var, [(var, np.asarray(values, dtype=dtype))]


def _define_text(
    ds: Any, name: str, values: Sequence[Any], roots: PathRoots | None, attrs: dict[str, Any]
) -> Defined:
    """Kinds ``str`` and ``path``: strings, relative to the database directory if inside."""
    sample = f"{name}_sample"
    texts = [str(v) for v in values]
    relative = [0] * len(texts)
    if roots is not None:
        for i, text in enumerate(texts):
            texts[i], relative[i] = roots.split(text)
    var = ds.createVariable(name, str, (sample,))
    writes: Writes = [(var, np.asarray(texts, dtype=object))]
    if any(relative):
        rel = ds.createVariable(f"{name}_relative", "i1", (sample,), fill_value=False)
        rel.setncatts(
            {
                "long_name": f"whether each {name} is a path relative to the database directory",
                "flag_values": np.array([0, 1, 2], dtype=np.int8),
                "flag_meanings": "as_is relative_to_database relative_to_resolved_database",
            }
        )
        writes.append((rel, np.asarray(relative, dtype=np.int8)))
    if attrs["pytams_kind"] == "path":
        attrs["pytams_path_type"] = type(values[0]).__name__
    return var, writes


def _define_blobs(
    ds: Any, name: str, values: Sequence[Any], roots: PathRoots | None, attrs: dict[str, Any]
) -> Defined:
    """Kinds ``bytes``, ``bigint`` and ``pickle``: byte strings back to back, with offsets."""
    kind = attrs["pytams_kind"]
    if kind == "bytes":
        blobs = list(values)
    elif kind == "bigint":
        blobs = [v.to_bytes(v.bit_length() // 8 + 1, "little", signed=True) for v in values]
        attrs["comment"] = "little-endian two's complement integers, one per sample"
    else:
        blobs = [pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL) for v in values]
        attrs["comment"] = "Python pickles, one per sample: read only from trusted databases"
    offsets = np.cumsum([0, *[len(b) for b in blobs]], dtype=np.int64)
    data = np.frombuffer(b"".join(blobs) or b"\0", dtype=np.uint8)  # no dimension of length 0
    ds.createDimension(f"{name}_byte", data.size)
    ds.createDimension(f"{name}_offset", len(offsets))
    var = ds.createVariable(name, "u1", (f"{name}_byte",), fill_value=False, contiguous=True)
    off = ds.createVariable(f"{name}_offsets", "i8", (f"{name}_offset",), fill_value=False)
    off.long_name = f"where each {name} begins in {name} (and where the last one ends)"
    return var, [(var, data), (off, offsets)]


def _define_tree(
    ds: Any, name: str, values: Sequence[Any], roots: PathRoots | None, attrs: dict[str, Any]
) -> Defined:
    """Kind ``tree``: each sample's structure number, and a column per leaf."""
    numbers: dict[str, int] = {}  # structure (as JSON) -> its number
    structures: list[Any] = []  # with leaf numbers at the leaves
    leaf_ids: list[list[int]] = []  # the leaf numbers of each structure, in order
    leaves: list[list[Any]] = []  # each leaf's column over the samples
    chosen = []
    counter = itertools.count()
    for i, value in enumerate(values):
        structure, found = _split(value)
        key = json.dumps(structure)
        if key not in numbers:
            numbers[key] = len(structures)
            first = len(leaves)
            structures.append(_number(structure, counter))
            leaf_ids.append(list(range(first, first + len(found))))
            leaves += [[None] * len(values) for _ in found]
        chosen.append(numbers[key])
        for j, leaf in zip(leaf_ids[numbers[key]], found, strict=True):
            leaves[j][i] = leaf
    var = ds.createVariable(name, "i4", (f"{name}_sample",), fill_value=False)
    attrs["pytams_structures"] = json.dumps(structures)
    writes: Writes = [(var, np.asarray(chosen, dtype=np.int32))]
    for j, leaf_column in enumerate(leaves):
        long_name = f"leaf {j} of the structures of {name} (pytams_structures)"
        writes += define_column(ds, f"{name}_leaf_{j}", leaf_column, roots, long_name)
    return var, writes


def _number(structure: Any, counter: Iterator[int]) -> Any:
    """``structure`` with its leaves numbered from ``counter``, in order."""
    if isinstance(structure, str):
        return next(counter)
    if structure[0] == "none":
        return structure
    if structure[0] == "dict":
        return ["dict", [[k, _number(s, counter)] for k, s in structure[1]]]
    return [structure[0], [_number(s, counter) for s in structure[1]]]


_DEFINE = {
    "ndarray": _define_array,
    "scalar": _define_array,
    "ragged": _define_ragged,
    "float": _define_number,
    "int": _define_number,
    "bool": _define_number,
    "complex": _define_number,
    "str": _define_text,
    "path": _define_text,
    "bytes": _define_blobs,
    "bigint": _define_blobs,
    "pickle": _define_blobs,
    "tree": _define_tree,
}


def write_data(writes: Writes) -> None:
    """Write the data of variables defined before."""
    for var, values in writes:
        var[...] = values


class Unread:
    """The mark of a value that a file holds but a partial read left there (`read_column`)."""

    def __repr__(self) -> str:
        return "UNREAD"


UNREAD = Unread()


def read_column(
    ds: Any,
    name: str,
    n: int,
    roots: PathRoots | None,
    *,
    allow_pickle: bool = False,
    wanted: range | None = None,
) -> list[Any]:
    """Read back the column ``name`` of ``n`` snapshots exactly as it was written.

    Args:
        ds: The open dataset.
        name: The column.
        n: The number of snapshots.
        roots: Where paths stored relative to the database directory are rebuilt from.
        allow_pickle: Unpickle a ``pickle`` column (runs code: trusted databases only).
        wanted: Read only these snapshots' values (all if None): a snapshot outside it that
            holds a value gets `UNREAD`, one that holds none gets None, as in a whole read.

    Raises:
        UntrustedPickleError: When the column holds pickles and ``allow_pickle`` is false.
        ValueError: When the column is malformed.
    """
    column: list[Any] = [None] * n
    kind = ds.getncattr(f"pytams_{name}") if f"pytams_{name}" in ds.ncattrs() else "none"
    if kind == "none":
        return column
    if kind not in _DEFINE:
        msg = f"{name}: unknown kind {kind!r} (written by a newer pytams-io?)"
        raise ValueError(msg)
    var = ds.variables[name]
    index = _read_index(ds, name, var.getncattr("pytams_present"), n)
    if index and not 0 <= min(index) <= max(index) < n:
        msg = f"{name}: snapshot indices {min(index)}..{max(index)} out of {n}"
        raise ValueError(msg)
    rows = slice(None)
    if wanted is not None:  # the samples of the wanted snapshots: a run of them (sorted)
        chosen = [j for j, i in enumerate(index) if i in wanted]
        rows = slice(chosen[0], chosen[-1] + 1) if chosen else slice(0, 0)
        for i in index:
            column[i] = UNREAD
    values = _read_values(ds, name, kind, var, roots, allow_pickle, rows)
    samples = index[rows]
    if len(samples) != len(values):
        msg = f"{name}: {len(values)} values for {len(samples)} snapshot indices out of {n}"
        raise ValueError(msg)
    for i, value in zip(samples, values, strict=True):
        column[i] = value
    return column


def _read_index(ds: Any, name: str, present: str, n: int) -> list[int]:
    """The snapshot index of each sample of a column."""
    if present == "all":
        return list(range(n))
    if present == "all_but_first":
        return list(range(1, n))
    if present.startswith("every "):
        return list(range(0, n, int(present.split()[1])))
    index: list[int] = ds.variables[f"{name}_index"][:].tolist()
    return index


def _read_values(
    ds: Any,
    name: str,
    kind: str,
    var: Any,
    roots: PathRoots | None,
    allow_pickle: bool,
    rows: slice = slice(None),
) -> list[Any]:
    """The present values of a column of ``kind``: samples ``rows`` of them.

    Numbers and fixed-shape arrays read only those samples from the file (a large state is
    read alone); the other kinds read every sample and keep those.
    """
    if kind in ("bytes", "bigint", "pickle"):
        return _read_blobs(ds, name, kind, var, allow_pickle)[rows]
    if kind == "tree":
        return _read_tree(ds, name, var, roots, allow_pickle)[rows]
    if kind in ("str", "path"):
        return _read_text(ds, name, kind, var, roots)[rows]
    if kind in _NUMBERS:
        values: list[Any] = var[rows].tolist()
        return [bool(v) for v in values] if kind == "bool" else values
    if kind == "ragged":  # the samples are flattened together: read whole, then keep
        data = _from_stored(var[...], *_stored_as(var))
        return _unflatten(data, ds.variables[f"{name}_shape"][...].tolist())[rows]
    data = _from_stored(var[rows], *_stored_as(var))
    if kind == "complex":
        numbers: list[Any] = data.tolist()
        return numbers
    if kind == "ndarray":
        return [data[j, ...] for j in range(data.shape[0])]
    return [data[j] for j in range(data.shape[0])]


def _stored_as(var: Any) -> tuple[str, np.dtype[Any]]:
    """The storage and dtype of an array variable (bool or native in older files)."""
    dtype = np.dtype(var.getncattr("pytams_dtype"))
    default = "bool" if dtype.kind == "b" else "native"
    names = var.ncattrs()
    storage = var.getncattr("pytams_storage") if "pytams_storage" in names else default
    if _storage(dtype) != storage:
        msg = f"{var.name}: dtype {dtype} cannot be stored as {storage!r}"
        raise ValueError(msg)
    return storage, dtype


def _unflatten(flat: np.ndarray, shapes: list[list[int]]) -> list[np.ndarray]:
    """The arrays of a ``ragged`` column: ``flat`` cut by the shape table."""
    arrays = []
    start = 0
    for row in shapes:
        shape = tuple(size for size in row if size >= 0)
        stop = start + math.prod(shape)
        if stop > flat.size:
            msg = f"the shapes need {stop} elements, the data holds {flat.size}"
            raise ValueError(msg)
        arrays.append(flat[start:stop].reshape(shape))
        start = stop
    return arrays


def _read_blobs(ds: Any, name: str, kind: str, var: Any, allow_pickle: bool) -> list[Any]:
    """Kinds ``bytes``, ``bigint`` and ``pickle`` (unpickled only with ``allow_pickle``)."""
    if kind == "pickle" and not allow_pickle:
        raise _trust.refusal(f"the {name} column")
    data = var[:].tobytes()
    offsets = ds.variables[f"{name}_offsets"][:].tolist()
    if offsets[0] != 0 or offsets[-1] > len(data) or offsets != sorted(offsets):
        msg = f"{name}: offsets {offsets[0]}..{offsets[-1]} do not cut {len(data)} bytes"
        raise ValueError(msg)
    blobs = [data[a:b] for a, b in itertools.pairwise(offsets)]
    if kind == "bytes":
        return blobs
    if kind == "bigint":
        return [int.from_bytes(b, "little", signed=True) for b in blobs]
    return [_trust.loads(b, allow=allow_pickle, what=f"the {name} column") for b in blobs]


def _read_text(ds: Any, name: str, kind: str, var: Any, roots: PathRoots | None) -> list[Any]:
    """Kinds ``str`` and ``path``."""
    texts = [str(t) for t in var[...].tolist()]
    if f"{name}_relative" in ds.variables and roots is not None:
        relative = ds.variables[f"{name}_relative"][:].tolist()
        texts = [roots.join(t, r) for t, r in zip(texts, relative, strict=True)]
    if kind == "str":
        return texts
    type_name = var.getncattr("pytams_path_type")
    if type_name not in PATH_TYPES:
        msg = f"{name}: unknown path type {type_name!r} (one of {sorted(PATH_TYPES)})"
        raise ValueError(msg)
    import pathlib

    cls: type[PurePath] = getattr(pathlib, type_name)
    return [cls(t) for t in texts]


def _read_tree(
    ds: Any, name: str, var: Any, roots: PathRoots | None, allow_pickle: bool
) -> list[Any]:
    """Kind ``tree``: each sample rebuilt from its structure and the leaf columns."""
    structures = json.loads(var.getncattr("pytams_structures"))
    chosen = var[...].tolist()
    if not all(0 <= s < len(structures) for s in chosen):
        msg = f"{name}: structure numbers out of 0..{len(structures) - 1}"
        raise ValueError(msg)
    count = 1 + max((j for s in structures for j in _leaf_numbers(s)), default=-1)
    leaves = [
        read_column(ds, f"{name}_leaf_{j}", len(chosen), roots, allow_pickle=allow_pickle)
        for j in range(count)
    ]
    return [_build(structures[s], leaves, i) for i, s in enumerate(chosen)]


def _leaf_numbers(structure: Any) -> Iterator[int]:
    if isinstance(structure, int):
        yield structure
    elif structure[0] == "dict":
        for _, s in structure[1]:
            yield from _leaf_numbers(s)
    elif structure[0] != "none":
        for s in structure[1]:
            yield from _leaf_numbers(s)


def _build(structure: Any, leaves: list[list[Any]], i: int) -> Any:
    """Sample ``i`` of a ``tree`` column from its structure."""
    if isinstance(structure, int):
        return leaves[structure][i]
    kind = structure[0]
    if kind == "none":
        return None
    if kind == "dict":
        return {str(k): _build(s, leaves, i) for k, s in structure[1]}
    if kind == "tuple":
        return tuple(_build(s, leaves, i) for s in structure[1])
    if kind == "list":
        return [_build(s, leaves, i) for s in structure[1]]
    msg = f"unknown structure {kind!r}"
    raise ValueError(msg)
