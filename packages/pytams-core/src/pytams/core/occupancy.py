"""How busy a parallel runner's workers are: the initial ensemble against the iterations.

The initial ensemble runs N trajectories at once, enough for every worker. An iteration runs
only the clones of the k killed trajectories (``[tams] kills_per_iteration``, a few more on
ties): with more workers than k, the others wait, and the iterations hold most of a run's
model steps (about three quarters in typical runs). `idle_warning` says so at run start.
With a batched model the same holds: the k clones are split over at most k workers.
"""

from __future__ import annotations


def idle_warning(workers: int, k: int, *, ntrajectories: int | None = None) -> str | None:
    """The warning for ``workers`` parallel workers and ``k`` kills per iteration, or None.

    Args:
        workers: ``[runner] workers`` (W).
        k: ``[tams] kills_per_iteration``.
        ntrajectories: ``[tams] ntrajectories`` (N), when known: k must stay below N, so with
            W >= N the fix suggests N - 1 workers and kills.

    Returns:
        None when ``workers <= k`` (every worker can be busy during iterations), else one line
        saying how much of the cluster idles during iterations and how to fix it.
    """
    if workers <= k:
        return None
    idle = workers - k
    if ntrajectories is not None and workers >= ntrajectories:
        # k < N: not every worker can be busy; the most that can is N - 1
        most = ntrajectories - 1
        fix = (
            f"set [runner] workers = {most} and [tams] kills_per_iteration = {most} (k must "
            f"stay below ntrajectories = {ntrajectories}), or raise ntrajectories"
        )
    else:
        fix = (
            f"set [tams] kills_per_iteration = {workers} (a multiple of the worker count keeps "
            "every worker busy)"
        )
    return (
        f"[runner] workers = {workers} but [tams] kills_per_iteration = {k}: during iterations "
        f"at most {k} of {workers} workers are busy (ties aside): {idle}/{workers} of the "
        "cluster idles for most of the run (the iterations hold about three quarters of a "
        f"typical run's model steps); fix: {fix}; the estimate stays unbiased for any k"
    )
