"""Trajectories: the columns of their snapshots, their identity and their genealogy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytams.core.snapshot import Snapshot


@dataclass(frozen=True, slots=True, order=True)
class TrajectoryKey:
    """Identity of a trajectory: its slot in the ensemble (0..N-1) and its generation there.

    Initial trajectories are generation 0; the clone that replaces a killed trajectory takes
    its slot and the next generation.
    """

    slot: int
    generation: int = 0

    def __str__(self) -> str:
        return f"{self.slot:06d}-{self.generation:05d}"

    @classmethod
    def parse(cls, text: str | TrajectoryKey) -> TrajectoryKey:
        """Inverse of ``str(key)``: ``"000003-00002"`` is slot 3, generation 2.

        A `TrajectoryKey` is returned as it is.

        Raises:
            TypeError: When ``text`` is neither a string nor a `TrajectoryKey`.
            ValueError: When the string is not ``<slot>-<generation>``.
        """
        if isinstance(text, TrajectoryKey):
            return text
        if isinstance(text, str):
            slot, dash, generation = text.strip().partition("-")
            if dash and slot.isdecimal() and generation.isdecimal():
                return cls(int(slot), int(generation))
            msg = (
                f"{text!r} is not a trajectory key: write <slot>-<generation>, "
                "e.g. '000003-00002' (as str(key) and the xarray view show it)"
            )
            raise ValueError(msg)
        raise TypeError(
            "a trajectory key is a TrajectoryKey or its string form ('000003-00002'), "
            f"not {type(text).__name__} {text!r}: e.g. TrajectoryKey(slot=3, generation=2)"
        )

    def next_generation(self) -> TrajectoryKey:
        """The key of the clone that replaces this trajectory."""
        return TrajectoryKey(self.slot, self.generation + 1)


@dataclass(slots=True, kw_only=True, eq=False)
class Trajectory:
    """A trajectory stored as columns (time, score, noise, state), one entry per snapshot.

    Snapshot i is the state after i model steps. The columns are lists, or numpy arrays with
    a leading snapshot axis when a batched model produced them (then the start's noise is NaN;
    with ``store_state_every`` above 1 the states are a list, None where none is kept, as on
    the scalar path). A clone shares its parent's first
    ``branch_index + 1`` snapshots (copied) and continues with fresh noise.

    Attributes:
        key: Slot and generation.
        parent: The parent's key (None for an initial trajectory).
        branch_index: Index of the parent's snapshot this clone branched from.
        times, scores, noises, states: The columns; ``states[i]`` is None where not stored.
        converged: Whether the trajectory ended in the target set.
        model_steps: Model steps spent on this trajectory (its own segment, replays included).
    """

    key: TrajectoryKey
    parent: TrajectoryKey | None = None
    branch_index: int | None = None
    times: Any = field(default_factory=list)
    scores: Any = field(default_factory=list)
    noises: Any = field(default_factory=list)
    states: Any = field(default_factory=list)
    converged: bool = False
    model_steps: int = 0

    def __len__(self) -> int:
        return len(self.times)

    def __eq__(self, other: object) -> bool:
        """Equal keys, genealogy, flags and bitwise-equal columns."""
        if not isinstance(other, Trajectory):
            return NotImplemented
        return (
            self.key == other.key
            and self.parent == other.parent
            and self.branch_index == other.branch_index
            and self.converged == other.converged
            and self.model_steps == other.model_steps
            and _same(self.times, other.times)
            and _same(self.scores, other.scores)
            and _same(self.noises, other.noises)
            and _same(self.states, other.states)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def max_score(self) -> float:
        """The largest score along the trajectory (Q in the algorithm)."""
        if isinstance(self.scores, np.ndarray):
            return float(self.scores.max())
        return float(max(self.scores))

    @property
    def end_time(self) -> float:
        """Time of the last snapshot."""
        return float(self.times[-1])

    def snapshot(self, index: int) -> Snapshot[Any, Any]:
        """Snapshot ``index``."""
        return Snapshot(
            time=self.times[index],
            score=self.scores[index],
            noise=self.noises[index],
            state=self.states[index],
        )

    def first_above(self, level: float) -> int:
        """Index of the first snapshot whose score is strictly above ``level``."""
        if isinstance(self.scores, np.ndarray):
            above = np.flatnonzero(self.scores > level)
            if above.size:
                return int(above[0])
        for index, score in enumerate(self.scores):
            if score > level:
                return index
        msg = f"trajectory {self.key} never rises above {level!r} (max score {self.max_score!r})"
        raise ValueError(msg)

    def last_stored_state(self, index: int) -> int:
        """Index of the last snapshot at or before ``index`` that holds a state."""
        if isinstance(self.states, np.ndarray):
            return index
        while self.states[index] is None:
            index -= 1
        return index

    def clone_prefix(self, key: TrajectoryKey, branch_index: int) -> Trajectory:
        """A new trajectory ``key`` holding a copy of this one's snapshots 0..branch_index."""
        end = branch_index + 1
        return Trajectory(
            key=key,
            parent=self.key,
            branch_index=branch_index,
            times=self.times[:end],
            scores=self.scores[:end],
            noises=self.noises[:end],
            states=self.states[:end],
        )


def join(head: Any, tail: Any) -> Any:
    """Concatenate two columns (lists, or arrays with a leading snapshot axis)."""
    if len(head) == 0:
        return tail
    if isinstance(head, np.ndarray) and isinstance(tail, np.ndarray):
        return np.concatenate((head, tail))
    if isinstance(head, list) and isinstance(tail, list):
        return head + tail
    return list(head) + list(tail)


def _same(left: Any, right: Any) -> bool:
    """Element-wise equality that compares numpy arrays bit for bit."""
    if isinstance(left, np.ndarray) and isinstance(right, np.ndarray):
        return (
            left.shape == right.shape
            and left.dtype == right.dtype
            and left.tobytes() == right.tobytes()
        )
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=False):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            a_arr, b_arr = np.asarray(a), np.asarray(b)
            if a_arr.shape != b_arr.shape or a_arr.dtype != b_arr.dtype:
                return False
            if a_arr.tobytes() != b_arr.tobytes():
                return False
        elif a != b and not (a is None and b is None) and not (a != a and b != b):  # NaN == NaN
            return False
    return True
