"""The retry rule of every runner: which failures of a task are retried, and how often.

A failed task is rerun, up to ``[runner] retries`` times, when it failed through

- its model: `ModelError` (`run_segment` and `run_batch` turn every exception of the model's
  hooks into one), or
- a lost worker, an infrastructure fault rather than the task's: `WorkerLostError`, the
  standard library's `BrokenProcessPool` and dask's ``KilledWorker`` (dask gave up on a task
  whose workers died).

Anything else is not retried, since the same task would fail the same way again:

- the framework's own errors (every other `TAMSError`: `ConfigError` for a model file a
  worker cannot find, `StorageError`, `RunnerError`, ...) propagate as they are, as with the
  serial runner;
- any other exception (a task that failed to pickle or unpickle, a bug) stops the run at once
  with a `RunnerError` naming it, the exception as its cause.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from pytams.core.errors import ModelError, RunnerError, TAMSError
from pytams.core.segment import SegmentTask

_logger = logging.getLogger(__name__)
R = TypeVar("R")

_RESUME = "then resume (pytams run --resume, or [database] resume = true)"


class WorkerLostError(RunnerError):
    """A task's worker (process, node or batch job) was lost: retried like a model's error.

    A runner raises it (the infrastructure's own error as its cause) for a task it lost
    without an exception of the task's own.
    """


def is_worker_loss(exc: BaseException) -> bool:
    """Whether ``exc`` means that a task's worker was lost (not the task's fault)."""
    if isinstance(exc, (WorkerLostError, BrokenProcessPool)):
        return True
    # dask's KilledWorker, looked up rather than imported (core does not depend on dask): an
    # instance can only exist once distributed is imported
    killed = getattr(sys.modules.get("distributed"), "KilledWorker", None)
    return isinstance(killed, type) and isinstance(exc, killed)


def is_retryable(exc: BaseException) -> bool:
    """Whether a task that failed with ``exc`` is run again (see the module's rule)."""
    return isinstance(exc, ModelError) or is_worker_loss(exc)


class Attempts:
    """Counts the failed attempts of each task against ``[runner] retries``.

    Args:
        retries: How many times a task is rerun after a retryable failure.
    """

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self._failed: dict[object, int] = {}

    def failed(self, task: SegmentTask, exc: BaseException) -> None:
        """Record a failure of ``task``; return to have it retried, or raise.

        Raises:
            TAMSError: ``exc`` itself when it is a framework error (never retried).
            RunnerError: When ``task`` has failed ``retries + 1`` times, or at once for an
                exception that is not retried; ``exc`` is its cause.
        """
        if not is_retryable(exc):
            if isinstance(exc, TAMSError):
                raise exc
            raise not_retried(task, exc) from exc
        count = self._failed.get(task.key, 0) + 1
        self._failed[task.key] = count
        if count > self.retries:
            raise give_up(task, count, exc) from exc
        _log_retry(task.key, count, self.retries, exc)


def call_with_retries(function: Callable[[], R], retries: int, what: object) -> R:
    """Call ``function`` in this process, rerunning it after a retryable failure.

    The serial runner's form of the rule: the last error propagates as it is (in the caller's
    own process it needs no wrapping).

    Args:
        function: The work (one task, or one batch).
        retries: How many times it is rerun after a retryable failure.
        what: What the work is, for the log (a trajectory key).
    """
    failed = 0
    while True:
        try:
            return function()
        except Exception as exc:
            failed += 1
            if not is_retryable(exc) or failed > retries:
                raise
            _log_retry(what, failed, retries, exc)


def _log_retry(what: object, failed: int, retries: int, exc: BaseException) -> None:
    _logger.warning(
        "retrying trajectory %s (attempt %d of %d): %s: %s",
        what,
        failed + 1,
        retries + 1,
        type(exc).__name__,
        exc,
    )


def give_up(task: SegmentTask, attempts: int, exc: BaseException) -> RunnerError:
    """The error that stops a run after a task failed ``attempts`` times."""
    times = "once" if attempts == 1 else f"{attempts} times"
    if is_worker_loss(exc):
        fix = (
            "find why the workers died (memory, walltime, node failures: the scheduler's and "
            "workers' logs) or raise [runner] retries"
        )
    else:
        fix = "correct the model (or raise [runner] retries for transient faults)"
    return RunnerError(
        f"trajectory {task.key} failed {times} ([runner] retries = {attempts - 1}); the run "
        f"stopped and its database can be resumed. Last error: {type(exc).__name__}: {exc}. "
        f"Fix: {fix}, {_RESUME}."
    )


def not_retried(task: SegmentTask, exc: BaseException) -> RunnerError:
    """The error that stops a run at once: ``task`` failed with an error that is not retried."""
    return RunnerError(
        f"trajectory {task.key} failed with {type(exc).__name__}: {exc}; not retried (neither "
        "the model's error nor a lost worker: the task would fail again). The run stopped and "
        "its database can be resumed. Fix: the cause above (often a model parameter or state "
        f"that cannot be pickled, or a module the workers cannot import), {_RESUME}."
    )
