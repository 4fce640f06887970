"""The selection of an iteration: its level, who is killed, and the parents of the clones."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
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


class Ranking:
    """The maxima of the ensemble's slots, kept sorted as the ensemble changes.

    An update costs O(log N) comparisons (and a memory move of the sorted list), so an
    iteration's selection does not grow with N in Python work.

    Args:
        maxima: Q_i of each slot (finite).
    """

    def __init__(self, maxima: Sequence[float]) -> None:
        self._maxima = list(maxima)
        self._sorted = sorted((q, slot) for slot, q in enumerate(self._maxima))

    def __len__(self) -> int:
        return len(self._maxima)

    def update(self, slot: int, q: float) -> None:
        """Give ``slot`` the maximum ``q`` (a clone took it)."""
        del self._sorted[bisect_left(self._sorted, (self._maxima[slot], slot))]
        insort(self._sorted, (q, slot))
        self._maxima[slot] = q

    def smallest(self, k: int) -> float:
        """The k-th smallest maximum (k from 1)."""
        return self._sorted[k - 1][0]

    def highest(self) -> float:
        """The largest maximum."""
        return self._sorted[-1][0]

    def at_or_below(self, level: float) -> list[int]:
        """The slots whose maximum is at or below ``level``, ascending."""
        return sorted(
            slot for _, slot in self._sorted[: bisect_right(self._sorted, (level, math.inf))]
        )


def select(maxima: Ranking | Sequence[float], k: int, rng: np.random.Generator) -> Selection:
    """Rank the ensemble by maximum score and choose the kills and the parents.

    Args:
        maxima: Q_i of each slot, or their `Ranking` (what a run keeps: no sort per iteration).
        k: Kills per iteration: the level is the k-th smallest maximum.
        rng: The iteration's selection stream (parents uniform among the survivors, taken in
            slot order).
    """
    ranking = maxima if isinstance(maxima, Ranking) else Ranking(maxima)
    level = ranking.smallest(k)
    killed = ranking.at_or_below(level)
    survivors = len(ranking) - len(killed)
    if not survivors:
        return Selection(level=level, killed=tuple(killed), parents=())
    parents = tuple(_survivor(killed, int(rng.integers(survivors))) for _ in killed)
    return Selection(level=level, killed=tuple(killed), parents=parents)


def _survivor(killed: Sequence[int], index: int) -> int:
    """The slot of the ``index``-th survivor in slot order, given the killed slots (ascending)."""
    slot = index
    for dead in killed:
        if dead > slot:
            break
        slot += 1
    return slot
