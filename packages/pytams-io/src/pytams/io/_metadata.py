"""The run's metadata as plain JSON: values JSON lacks are tagged so they come back exactly.

A tag is an object with one key: ``__pytams_tuple__`` (a list), ``__pytams_complex__``
(``[real, imag]``), ``__pytams_ndarray__`` and ``__pytams_npscalar__`` (``dtype``, ``shape``,
``data``: the elements as a flat list), ``__pytams_path__`` (``type``, ``path``),
``__pytams_datetime__`` (``type``, ``iso``: TOML dates and times) and ``__pytams_dict__`` (a
dict whose one key looks like a tag). Any other value is refused when written, that is when
the run starts. Nothing decoded here runs code, except the pickles (``__pytams_pickle__``)
older pytams-io wrote: those are decoded only with ``allow_pickle`` (`pytams.io._trust`).
"""

from __future__ import annotations

import base64
import datetime
import json
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from pytams.core.errors import StorageError
from pytams.io import _trust

_TUPLE = "__pytams_tuple__"
_DICT = "__pytams_dict__"
_COMPLEX = "__pytams_complex__"
_NDARRAY = "__pytams_ndarray__"
_NPSCALAR = "__pytams_npscalar__"
_PATH = "__pytams_path__"
_DATETIME = "__pytams_datetime__"
_PICKLE = "__pytams_pickle__"  # read only (with allow_pickle): never written any more
_TAGS = frozenset({_TUPLE, _DICT, _COMPLEX, _NDARRAY, _NPSCALAR, _PATH, _DATETIME, _PICKLE})
PATH_TYPES = frozenset(
    {"Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath"}
)
_TIMES: dict[str, Any] = {
    "datetime": datetime.datetime,
    "date": datetime.date,
    "time": datetime.time,
}
_FIX = (
    "store numbers, strings, lists, tuples, dicts with string keys, numpy arrays of numbers "
    "or strings, paths or dates instead (e.g. convert it with str() or float())"
)


def to_json(metadata: Mapping[str, Any]) -> str:
    """The JSON text of ``metadata`` (keys sorted).

    Raises:
        StorageError: When a value has no JSON form (naming its key and type, and the fix).
    """
    return json.dumps(_encode(dict(metadata), "metadata"), sort_keys=True)


def from_json(text: str, *, allow_pickle: bool = False) -> dict[str, Any]:
    """The metadata ``to_json`` encoded as ``text``.

    Args:
        text: The JSON text.
        allow_pickle: Decode the pickles of older pytams-io (runs code: trusted files only).

    Raises:
        UntrustedPickleError: When ``text`` holds a pickle and ``allow_pickle`` is false.
    """
    metadata: dict[str, Any] = _decode(json.loads(text), allow_pickle)
    return metadata


def _refuse(where: str, value: Any, why: str = "has no JSON form") -> StorageError:
    kind = type(value)
    msg = (
        f"{where}: a value of type {kind.__module__}.{kind.__qualname__} {why}, and pytams "
        f"records a run's metadata as plain JSON; {_FIX}"
    )
    return StorageError(msg)


def _encode(value: Any, where: str) -> Any:
    """JSON-ready form of a metadata value; ``where`` names it in errors."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is complex:
        return {_COMPLEX: [value.real, value.imag]}
    if type(value) is list:
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if type(value) is tuple:
        return {_TUPLE: [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if type(value) is dict:
        return _encode_dict(value, where)
    if isinstance(value, pathlib.PurePath) and type(value).__name__ in PATH_TYPES:
        return {_PATH: {"type": type(value).__name__, "path": str(value)}}
    if type(value) in _TIMES.values():
        return {_DATETIME: {"type": type(value).__name__, "iso": value.isoformat()}}
    if type(value) is np.ndarray:
        return {_NDARRAY: _encode_array(value, where)}
    if isinstance(value, np.generic):
        return {_NPSCALAR: _encode_array(np.asarray(value), where)}
    raise _refuse(where, value)


def _encode_dict(value: dict[Any, Any], where: str) -> Any:
    bad = [k for k in value if type(k) is not str]
    if bad:
        raise _refuse(f"{where}[{bad[0]!r}]", bad[0], "is a dict key (keys must be strings)")
    encoded = {k: _encode(v, f"{where}.{k}") for k, v in value.items()}
    if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
        return {_DICT: encoded}  # not a tag: say so
    return encoded


def _encode_array(array: np.ndarray, where: str) -> dict[str, Any]:
    """``dtype``, ``shape`` and the elements as a list (exact for these dtypes)."""
    dtype = array.dtype
    flat = array.reshape(-1)
    data: list[Any]
    if dtype.kind in "biu" or (dtype.kind == "f" and dtype.itemsize <= 8):
        data = flat.tolist()
    elif dtype.kind == "c" and dtype.itemsize <= 16:
        data = [[z.real, z.imag] for z in flat.tolist()]
    elif dtype.kind == "U":
        data = flat.tolist()
    elif dtype.kind == "S":
        data = [b.decode("latin-1") for b in flat.tolist()]
    elif dtype.kind in "Mm":
        data = flat.view(_int64(dtype)).tolist()
    else:
        raise _refuse(where, array, f"of dtype {dtype} has no JSON form")
    return {"dtype": dtype.str, "shape": list(array.shape), "data": data}


def _int64(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """int64 in the byte order of ``dtype`` (the integers behind dates and durations)."""
    return np.dtype(f"{dtype.byteorder}i8")


def _decode(value: Any, allow_pickle: bool) -> Any:
    """The value ``_encode`` made JSON-ready."""
    if isinstance(value, list):
        return [_decode(v, allow_pickle) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in _TAGS:
            return _decode_tag(tag, inner, allow_pickle)
    return {k: _decode(v, allow_pickle) for k, v in value.items()}


def _decode_tag(tag: str, inner: Any, allow_pickle: bool) -> Any:
    if tag == _TUPLE:
        return tuple(_decode(v, allow_pickle) for v in inner)
    if tag == _DICT:
        return {k: _decode(v, allow_pickle) for k, v in inner.items()}
    if tag == _COMPLEX:
        return complex(*inner)
    if tag == _NDARRAY:
        return _decode_array(inner)
    if tag == _NPSCALAR:
        return _decode_array(inner)[()]
    if tag == _PATH:
        return _path(inner["type"], inner["path"])
    if tag == _DATETIME:
        return _TIMES[inner["type"]].fromisoformat(inner["iso"])
    blob = base64.b64decode(inner)
    return _trust.loads(blob, allow=allow_pickle, what="the run's metadata (in tams.nc)")


def _path(type_name: str, text: str) -> pathlib.PurePath:
    if type_name not in PATH_TYPES:
        msg = f"metadata: unknown path type {type_name!r} (one of {sorted(PATH_TYPES)})"
        raise ValueError(msg)
    cls: type[pathlib.PurePath] = getattr(pathlib, type_name)
    return cls(text)


def _decode_array(inner: Mapping[str, Any]) -> np.ndarray:
    dtype = np.dtype(inner["dtype"])
    if dtype.hasobject:
        msg = f"metadata: an array of dtype {dtype} was not written by pytams"
        raise ValueError(msg)
    data = inner["data"]
    if dtype.kind == "c":
        data = [complex(re, im) for re, im in data]
    elif dtype.kind == "S":
        data = [t.encode("latin-1") for t in data]
    array: np.ndarray
    if dtype.kind in "Mm":
        array = np.array(data, dtype=_int64(dtype)).view(dtype)
    else:
        array = np.array(data, dtype=dtype)
    return array.reshape(tuple(int(size) for size in inner["shape"]))
