"""`ThreadRunner`: tasks on a thread pool (``[runner] type = "threads"``)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from types import TracebackType

from pytams.core import Config, RunContext, SegmentResult, SegmentTask, run_unit, units
from pytams.core.retry import Attempts


class ThreadRunner:
    """Runs tasks on ``[runner] workers`` threads; retries as every pytams runner does."""

    def __init__(self, config: Config | None = None) -> None:
        self.workers = 1 if config is None else config.runner.workers
        self.retries = 0 if config is None else config.runner.retries
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> ThreadRunner:
        self._pool = ThreadPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(
        self, context: RunContext, tasks: Sequence[SegmentTask]
    ) -> Generator[SegmentResult, None, None]:
        """See `pytams.core.Runner`."""
        pool = self._pool
        if pool is None:
            msg = "enter the runner first: with ThreadRunner(config) as runner"
            raise RuntimeError(msg)
        attempts = Attempts(self.retries)
        pending: dict[Future[list[SegmentResult]], tuple[SegmentTask, ...]] = {
            pool.submit(run_unit, context, unit): unit
            for unit in units(context, tasks, self.workers)
        }
        try:
            while pending:
                for future in as_completed(list(pending)):
                    unit = pending.pop(future)
                    error = future.exception()
                    if error is None:
                        yield from future.result()
                        continue
                    attempts.failed(unit[0], error)
                    pending[pool.submit(run_unit, context, unit)] = unit
                    break  # wait again, now including the resubmitted unit
        finally:
            for future in pending:
                future.cancel()
