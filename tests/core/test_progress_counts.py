"""The driver's view of the ensemble: keys, maxima and convergence per slot, kept up to date in
O(k) per iteration, never the members' states. The progress of every iteration reports the
converged count, equal to the count recomputed from the iteration table."""

from __future__ import annotations

from pytams.core import TAMS, TrajectoryKey
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
