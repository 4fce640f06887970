"""The driver's view of the ensemble: keys, maxima and convergence per slot, kept up to date in
O(k) per iteration, never the members' states. The progress of every iteration reports the
converged count, equal to the count recomputed from the iteration table."""

from __future__ import annotations

from collections.abc import Sequence

from pytams.core import TAMS, MemoryStore, TrajectoryKey
from pytams.core.tams import Progress
from tests.core.models import OrnsteinUhlenbeck
from tests.core.test_pinned_results import config


def test_progress_counts_the_converged_members_after_every_iteration() -> None:
    reports: list[Progress] = []
    result = TAMS(OrnsteinUhlenbeck, config(30, 3, 21, 1.5), progress=reports.append).run()
    db = result.database
    assert db is not None
    members = [TrajectoryKey(slot) for slot in range(30)]
    expected = []
    for record in db.iterations:  # the ensemble after each iteration, rebuilt from the table
        for clone in record.clones:
            members[clone.slot] = clone
        expected.append(sum(db.trajectory(key).converged for key in members))
    reported = [r.converged for r in reports if r.phase == "iteration"]
    assert reported == expected
    assert expected[-1] == result.converged > 0
    assert len(set(expected)) > 2  # the count changed along the run: the test sees updates


def test_the_driver_never_holds_the_whole_ensemble() -> None:
    """A run reads members one at a time (`Database.member`): the database's list of member
    trajectories, states included, is only built when a reader asks for `ensemble`."""
    result = TAMS(OrnsteinUhlenbeck, config(30, 3, 21, 1.5), progress=lambda _: None).run()
    db = result.database
    assert db is not None
    assert db._ensemble is None  # what the run left in memory: no member list
    assert db.member_keys is not None
    assert [t.key for t in db.ensemble or []] == db.member_keys
    assert sum(t.converged for t in db.ensemble or []) == result.converged


class CountingStore(MemoryStore):
    """A memory store that records how the ensemble is committed."""

    def __init__(self) -> None:
        super().__init__()
        self.whole: list[int] = []  # sizes of the key lists given to write_ensemble
        self.members: list[int] = []  # sizes of those given to write_members

    def write_ensemble(self, keys: Sequence[TrajectoryKey]) -> None:
        self.whole.append(len(keys))
        super().write_ensemble(keys)

    def write_members(self, keys: Sequence[TrajectoryKey]) -> None:
        self.members.append(len(keys))
        super().write_members(keys)


class PlainStore(CountingStore):
    """A store without write_members, as a plugin may be: it gets the whole key list."""

    write_members = None  # type: ignore[assignment]


def test_an_iteration_commits_its_clones_alone_to_a_store_that_takes_them() -> None:
    counting, plain = CountingStore(), PlainStore()
    runs = [
        TAMS(OrnsteinUhlenbeck, config(30, 3, 21, 1.5), store=s).run() for s in (counting, plain)
    ]
    assert runs[0] == runs[1]
    db = runs[0].database
    assert db is not None
    assert counting.whole == [30]  # the initial ensemble
    assert counting.members == [len(r.killed) for r in db.iterations]
    assert plain.whole == [30] * (1 + runs[1].iterations)  # one whole list per iteration
    assert counting.read_ensemble() == plain.read_ensemble() == db.member_keys
