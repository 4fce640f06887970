"""The run's metadata as JSON: tuples and values JSON lacks are tagged so they come back."""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Mapping
from typing import Any

_TAGS = ("__pytams_tuple__", "__pytams_pickle__")


def to_json(metadata: Mapping[str, Any]) -> str:
    """The JSON text of ``metadata`` (keys sorted)."""
    return json.dumps(_encode(dict(metadata)), sort_keys=True)


def from_json(text: str) -> dict[str, Any]:
    """The metadata ``to_json`` encoded as ``text``."""
    metadata: dict[str, Any] = _decode(json.loads(text))
    return metadata


def _encode(value: Any) -> Any:
    """JSON-ready form of metadata: tuples and non-JSON values tagged so they come back."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_encode(v) for v in value]
    if type(value) is tuple:
        return {_TAGS[0]: [_encode(v) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value) and not set(value) & set(_TAGS):
        return {k: _encode(v) for k, v in value.items()}
    blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return {_TAGS[1]: base64.b64encode(blob).decode("ascii")}


def _decode(value: Any) -> Any:
    """The value ``_encode`` made JSON-ready."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and _TAGS[0] in value:
            return tuple(_decode(v) for v in value[_TAGS[0]])
        if len(value) == 1 and _TAGS[1] in value:
            return pickle.loads(base64.b64decode(value[_TAGS[1]]))
        return {k: _decode(v) for k, v in value.items()}
    return value
