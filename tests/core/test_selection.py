"""The selection kept by a `Ranking` (O(log N) per update) equals the plain one: same level,
same kills, same parents from the same stream, ties included, as the ensemble changes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pytams.core.selection import Ranking, Selection, select

# few distinct values, so ties (a killed set larger than k, extinction) are common
maxima_lists = st.lists(st.sampled_from([-1.0, 0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=40)


def plain_select(maxima: list[float], k: int, rng: np.random.Generator) -> Selection:
    """The selection written out: sort, kill at or below the level, parents among the rest."""
    level = sorted(maxima)[k - 1]
    killed = tuple(slot for slot, q in enumerate(maxima) if q <= level)
    survivors = [slot for slot, q in enumerate(maxima) if q > level]
    if not survivors:
        return Selection(level=level, killed=killed, parents=())
    parents = tuple(survivors[int(rng.integers(len(survivors)))] for _ in killed)
    return Selection(level=level, killed=killed, parents=parents)


@settings(max_examples=300, deadline=None)
@given(
    maxima=maxima_lists,
    k_fraction=st.floats(0.0, 1.0),
    updates=st.lists(st.tuples(st.integers(0, 39), st.floats(-2.0, 2.0)), max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_ranking_selects_as_the_plain_selection(
    maxima: list[float], k_fraction: float, updates: list[tuple[int, float]], seed: int
) -> None:
    k = 1 + int(k_fraction * (len(maxima) - 1))
    ranking = Ranking(maxima)
    for slot, q in updates:  # the ensemble changes: the ranking follows
        slot %= len(maxima)
        maxima[slot] = q
        ranking.update(slot, q)
        assert ranking.highest() == max(maxima)
        expected = plain_select(maxima, k, np.random.default_rng(seed))
        assert select(ranking, k, np.random.default_rng(seed)) == expected
    expected = plain_select(maxima, k, np.random.default_rng(seed))
    assert select(maxima, k, np.random.default_rng(seed)) == expected
    assert select(ranking, k, np.random.default_rng(seed)) == expected


def test_ties_at_the_level_are_all_killed_and_never_parents() -> None:
    selection = select(Ranking([0.5, 0.2, 0.2, 0.9, 0.2]), 1, np.random.default_rng(0))
    assert selection.level == 0.2
    assert selection.killed == (1, 2, 4)
    assert set(selection.parents) <= {0, 3}
    assert len(selection.parents) == 3


def test_extinction_when_every_maximum_ties() -> None:
    selection = select(Ranking([0.3, 0.3, 0.3]), 2, np.random.default_rng(0))
    assert selection.extinct
    assert selection.killed == (0, 1, 2)
