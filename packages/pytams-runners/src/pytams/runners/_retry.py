"""Retry bookkeeping shared by the runners."""

from __future__ import annotations

import logging

from pytams.core.errors import RunnerError
from pytams.core.segment import SegmentTask

_logger = logging.getLogger("pytams.runners")


class Attempts:
    """Counts the failed attempts of each task against ``[runner] retries``."""

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self._failed: dict[object, int] = {}

    def failed(self, task: SegmentTask, exc: BaseException) -> None:
        """Record a failure of ``task``; return to retry it, or raise `RunnerError`.

        Raises:
            RunnerError: When ``task`` has failed ``retries + 1`` times.
        """
        count = self._failed.get(task.key, 0) + 1
        self._failed[task.key] = count
        if count > self.retries:
            raise give_up(task, count, exc) from exc
        _logger.warning(
            "retrying trajectory %s (attempt %d of %d): %s: %s",
            task.key,
            count + 1,
            self.retries + 1,
            type(exc).__name__,
            exc,
        )


def give_up(task: SegmentTask, attempts: int, exc: BaseException) -> RunnerError:
    """The error that stops a run after a task failed ``attempts`` times."""
    times = "once" if attempts == 1 else f"{attempts} times"
    return RunnerError(
        f"trajectory {task.key} failed {times} ([runner] retries = {attempts - 1}); the run "
        f"stopped and its database can be resumed. Last error: {type(exc).__name__}: {exc}. "
        "Fix: correct the model (or raise [runner] retries for transient faults), then resume "
        "(pytams run --resume, or [database] resume = true)."
    )
