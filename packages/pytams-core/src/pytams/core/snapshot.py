"""One point of a trajectory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

State = TypeVar("State")
Noise = TypeVar("Noise")


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot(Generic[State, Noise]):
    """A trajectory point: time, score, the noise of the step that led here, and the state.

    ``noise`` is None at a trajectory's start. ``state`` is None where states are kept only
    every k-th step (``[trajectory] store_state_every``); branching from such a point replays
    the stored noise from the last stored state.
    """

    time: float
    score: float
    noise: Noise | None = None
    state: State | None = None
