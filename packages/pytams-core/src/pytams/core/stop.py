"""Why a run stops: the reasons, and the rule that decides between iterations."""

from __future__ import annotations

from enum import Enum


class StopReason(str, Enum):
    """Why a run (one repeat) stopped; the value is the string of the result and its JSON."""

    ALL_CONVERGED = "all_converged"
    TARGET_REACHED = "target_reached"
    EXTINCTION = "extinction"
    MAX_ITERATIONS = "max_iterations"
    MAX_KILLS = "max_kills"
    WALLTIME = "walltime"
    MONTECARLO = "montecarlo"

    def __str__(self) -> str:
        return self.value

    @property
    def complete(self) -> bool:
        """Whether a run stopped for this reason claims an estimate."""
        return self is not StopReason.WALLTIME


def stop_before_iteration(
    *,
    iterations: int,
    all_converged: bool,
    max_iterations: int | None,
    kills: int,
    max_kills: int | None,
    out_of_time: bool,
    level: float,
    highest: float,
    target: float,
) -> StopReason | None:
    """The rule checked before iteration ``iterations`` (0-based) is recorded.

    The run and every reader of its database (`pytams.io.run_status`) decide with it.

    Args:
        iterations: Iterations done.
        all_converged: Whether every trajectory of the ensemble has converged.
        max_iterations: ``[tams] max_iterations``.
        kills: Trajectories killed so far.
        max_kills: ``[tams] max_kills`` (pyTAMS's nsplititer).
        out_of_time: Whether the walltime has passed.
        level: The level the next iteration would have (the k-th smallest maximum).
        highest: The largest maximum of the ensemble.
        target: The target score.

    Returns:
        Why the run stops now, or None to run the iteration.
    """
    if iterations == 0 and all_converged:
        return StopReason.ALL_CONVERGED
    if max_iterations is not None and iterations >= max_iterations:
        return StopReason.MAX_ITERATIONS
    if max_kills is not None and kills >= max_kills:
        return StopReason.MAX_KILLS
    if out_of_time:
        return StopReason.WALLTIME
    if level >= target:
        return StopReason.TARGET_REACHED
    if level >= highest:
        return StopReason.EXTINCTION
    return None
