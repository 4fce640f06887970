"""What makes a database self-describing: the run's settings and outcome as attributes, units.

The global attributes of ``tams.nc`` and of the xarray view (`run_attributes`), the CF units
of model time (`time_attributes`) and the configuration as TOML text (`toml_text`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

#: The reference of model time: CF requires ``<unit> since <date>`` for a time coordinate.
TIME_REFERENCE = "1970-01-01 00:00:00"
#: The outcome's entries kept under their own name (the others get the prefix ``outcome_``).
OUTCOME_KEYS = ("stop_reason", "probability", "std_error", "ci_low", "ci_high")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_INT64 = 2**63


def time_units(metadata: Mapping[str, Any] | None) -> str:
    """The units of model time: ``[model] time_units`` of the run, ``"1"`` by default."""
    model = ((metadata or {}).get("config") or {}).get("model") or {}
    return str(model.get("time_units", "1"))


def cf_time_units(units: str) -> str:
    """CF units of model time: ``<units> since 1970-01-01 00:00:00``, or ``"1"``.

    CF has no nondimensional time: a model time in units ``"1"`` stays ``"1"`` (not CF
    time units). Units that already hold a reference (``"days since 2000-01-01"``) are kept.
    """
    if units.strip() in ("", "1"):
        return "1"
    return units if " since " in units else f"{units} since {TIME_REFERENCE}"


def time_attributes(units: str, *, coordinate: bool) -> dict[str, str]:
    """Attributes of model time in ``units`` (a coordinate also gets its axis)."""
    attrs = {"long_name": "model time", "units": cf_time_units(units)}
    if attrs["units"] == "1":
        attrs["comment"] = (
            "nondimensional model time; set [model] time_units to a unit of time for CF time units"
        )
    else:
        attrs["calendar"] = "proleptic_gregorian"
    if coordinate:
        attrs |= {"standard_name": "time", "axis": "T"}
    return attrs


def run_attributes(
    metadata: Mapping[str, Any] | None, versions: Mapping[str, str]
) -> dict[str, Any]:
    """The global attributes that describe a run: its settings, versions and outcome.

    Args:
        metadata: The run's metadata (``config``, ``seed``, ``model``, and ``outcome`` once
            the run has one).
        versions: Versions of the packages that wrote the database.
    """
    if not metadata:
        return {}
    config = metadata.get("config") or {}
    tams = config.get("tams") or {}
    trajectory = config.get("trajectory") or {}
    attrs: dict[str, Any] = {
        "model": str(metadata.get("model")),
        "seed": _seed(metadata.get("seed")),
        "ntrajectories": tams.get("ntrajectories"),
        "kills_per_iteration": tams.get("kills_per_iteration", 1),
        "end_time": trajectory.get("end_time"),
        "step_size": trajectory.get("step_size"),
        "target_score": trajectory.get("target_score"),
        "time_units": time_units(metadata),
        "pytams_core_version": versions.get("pytams-core"),
        "pytams_io_version": versions.get("pytams-io"),
        "configuration": toml_text(config),
    }
    outcome = metadata.get("outcome")
    if isinstance(outcome, Mapping):
        for key, value in outcome.items():
            attrs[key if key in OUTCOME_KEYS else f"outcome_{key}"] = value
        if "ci_low" in outcome:
            attrs["ci_level"] = 0.95
    return {key: _attribute(value) for key, value in attrs.items() if _storable(value)}


def _seed(seed: Any) -> Any:
    """The seed as an integer attribute, or text when it does not fit in 64 bits."""
    if isinstance(seed, int) and -_INT64 <= seed < _INT64:
        return seed
    return None if seed is None else str(seed)


def _storable(value: Any) -> bool:
    return value is not None and isinstance(value, (str, bool, int, float))


def _attribute(value: Any) -> Any:
    """A netCDF attribute value: booleans as 0/1 (netCDF has no boolean), enums as text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return value


def toml_text(config: Mapping[str, Any]) -> str:
    """``config`` (nested tables of strings, numbers, booleans and lists) as TOML text.

    None values are left out (TOML has no null).

    >>> print(toml_text({"tams": {"ntrajectories": 16, "seed": 1}, "model": {}}), end="")
    [tams]
    ntrajectories = 16
    seed = 1
    <BLANKLINE>
    [model]
    """
    lines: list[str] = []
    _table(lines, (), config)
    return "\n".join(lines).strip("\n") + "\n"


def _table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines.append(f"[{'.'.join(_key(p) for p in path)}]")
    lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
    if path and (scalars or not tables):
        lines.append("")
    for key, value in tables.items():
        _table(lines, (*path, key), value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    """A TOML basic string (JSON escapes, DEL escaped too; no surrogate pairs)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return f"{{{inner}}}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return _string(str(value))
