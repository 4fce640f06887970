"""The progress of every iteration reports the ensemble's converged count, kept up to date in
O(k) per iteration: it equals the count recomputed from the iteration table."""

from __future__ import annotations

from pytams.core import TAMS, TrajectoryKey
from pytams.core.tams import Progress
from tests.core.models import OrnsteinUhlenbeck
from tests.core.test_pinned_results import config


def test_progress_counts_the_converged_members_after_every_iteration() -> None:
    reports: list[Progress] = []
    result = TAMS(OrnsteinUhlenbeck, config(30, 3, 21, 1.5), progress=reports.append).run()
    db = result.database
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
