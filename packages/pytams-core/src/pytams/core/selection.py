"""The selection of an iteration: its level, who is killed, and the parents of the clones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """What one iteration does to the ensemble.

    Attributes:
        level: z, the k-th smallest maximum score.
        killed: Slots whose maximum is at or below the level (ties included), ascending.
        parents: For each killed slot, the slot of the survivor its clone branches from;
            empty at extinction (no survivor above the level).
    """

    level: float
    killed: tuple[int, ...]
    parents: tuple[int, ...]

    @property
    def extinct(self) -> bool:
        """Whether no trajectory survives the level."""
        return not self.parents


def select(maxima: Sequence[float], k: int, rng: np.random.Generator) -> Selection:
    """Rank the ensemble by maximum score and choose the kills and the parents.

    Args:
        maxima: Q_i of each slot.
        k: Kills per iteration: the level is the k-th smallest maximum.
        rng: The iteration's selection stream (parents uniform among the survivors).
    """
    level = sorted(maxima)[k - 1]
    killed = tuple(slot for slot, q in enumerate(maxima) if q <= level)
    survivors = [slot for slot, q in enumerate(maxima) if q > level]
    if not survivors:
        return Selection(level=level, killed=killed, parents=())
    parents = tuple(survivors[int(rng.integers(len(survivors)))] for _ in killed)
    return Selection(level=level, killed=killed, parents=parents)
