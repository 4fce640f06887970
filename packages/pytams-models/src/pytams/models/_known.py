"""The known answer of a reference model, and the parameter helpers the models share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pytams.core.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownAnswer:
    """The exact (or reference) probability a TAMS run of a model should reproduce.

    Attributes:
        probability: The value TAMS estimates without bias (the Euler chain's probability).
        source: Where it comes from (closed form, reference solver, published figure).
        continuous: The continuous process's probability, when known (TAMS over an Euler
            chain does not estimate it: the difference is time-step error).
    """

    probability: float
    source: str
    continuous: float | None = None


def number(
    params: Mapping[str, Any], key: str, default: float, *, positive: bool = False, model: str
) -> float:
    """A float parameter of the ``[model]`` table, checked."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"[model] {key} = {value!r}: {model} needs a number, e.g. {key} = {default}"
        raise ConfigError(msg)
    if positive and not value > 0:
        msg = f"[model] {key} = {value!r}: {model} needs a number > 0, e.g. {key} = {default}"
        raise ConfigError(msg)
    return float(value)


def vector(
    params: Mapping[str, Any], key: str, default: Sequence[float], dim: int, *, model: str
) -> NDArray[np.float64]:
    """A vector parameter (a list of ``dim`` numbers, or one number for all components)."""
    value = params.get(key, list(default))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.full(dim, float(value))
    if (
        not isinstance(value, (list, tuple))
        or len(value) != dim
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        msg = (
            f"[model] {key} = {value!r}: {model} needs a list of {dim} numbers "
            f"(or one number), e.g. {key} = {list(default)}"
        )
        raise ConfigError(msg)
    return np.array(value, dtype=np.float64)


def integer(params: Mapping[str, Any], key: str, default: int, *, model: str) -> int:
    """A positive integer parameter."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"[model] {key} = {value!r}: {model} needs an integer >= 1, e.g. {key} = {default}"
        raise ConfigError(msg)
    return value
