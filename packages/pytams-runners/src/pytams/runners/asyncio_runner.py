"""`AsyncioRunner`: tasks on a local process pool, driven by an asyncio event loop.

The event loop runs in a thread of its own (so the runner also works where a loop is already
running, as in Jupyter); each task is a coroutine that runs `run_segment` in the pool and
retries it on failure. Worker processes are started with ``spawn``: a model loaded from a file
re-imports there through its reference. The run's context is pickled once per run; each task
carries its bytes, which a worker process unpickles only the first time (it keeps the last two
contexts, by token); a unit travels pickled and is unpickled by the task itself
(`pytams.runners._travel`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Generator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType

from pytams.core.batch import units
from pytams.core.config import Config
from pytams.core.errors import RunnerError
from pytams.core.retry import Attempts
from pytams.core.segment import RunContext, SegmentResult, SegmentTask
from pytams.runners._travel import new_token, pack_context, pack_unit, run_packed

_logger = logging.getLogger("pytams.runners")

# a pool whose worker died is rebuilt and its tasks rerun, this many times per `run` at most
MAX_POOL_REBUILDS = 5
# in a pool's worker directory (beside one empty file per worker, named by its process id)
CLOSING = "closing"


class AsyncioRunner:
    """Runs tasks on ``[runner] workers`` local processes (``[runner] type = "asyncio"``).

    A task whose model raises is retried ``[runner] retries`` times, then the run stops with
    `RunnerError` (the model's error as its cause); a framework error is not retried (the rule
    of `pytams.core.retry`). A worker process that dies breaks the pool: the pool is rebuilt
    and the unfinished tasks rerun (not counted as retries).

    Args:
        config: The run's configuration (``[runner] workers`` and ``retries``).
        workers: Overrides ``[runner] workers``.
        retries: Overrides ``[runner] retries``.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        workers: int | None = None,
        retries: int | None = None,
    ) -> None:
        self.workers = (
            workers if workers is not None else (config.runner.workers if config is not None else 1)
        )
        self.retries = (
            retries if retries is not None else (config.runner.retries if config is not None else 0)
        )
        if self.workers < 1:
            msg = f"AsyncioRunner(workers={self.workers}): needs at least one worker"
            raise RunnerError(msg)
        self._depth = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool: cf.ProcessPoolExecutor | None = None
        self._worker_dirs: dict[cf.ProcessPoolExecutor, Path] = {}  # see _start_worker
        self._pool_lock = threading.Lock()
        self._abandoned = False  # tasks left running by a closed iterator (walltime)
        # the last context pickled: (context, its token, its bytes)
        self._shipped: tuple[RunContext, str, bytes] | None = None

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> AsyncioRunner:
        """Start the event loop thread and the process pool (re-entrant: nested uses share)."""
        self._depth += 1
        if self._depth == 1:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="pytams-asyncio", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            self._pool = self._new_pool()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the pool (killing its processes after an error or Ctrl-C) and the loop."""
        self._depth -= 1
        if self._depth > 0:
            return
        # after an error, Ctrl-C or tasks left running (the walltime), do not wait for them
        self._shutdown_pool(kill=exc_type is not None or self._abandoned)
        self._abandoned = False
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_drain(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
        self._loop = self._thread = None
        self._shipped = None

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        directory = Path(tempfile.mkdtemp(prefix="pytams-workers-"))
        pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(str(directory),),
        )
        self._worker_dirs[pool] = directory
        return pool

    def _shutdown_pool(self, *, kill: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            self._terminate_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        self._forget(pool)

    def _terminate_workers(self, pool: cf.ProcessPoolExecutor) -> None:
        """Terminate (SIGTERM) every worker process of ``pool``: busy, idle or still starting.

        Before it takes a task, each worker reports its process id and then looks for the
        pool's ``closing`` mark (`_start_worker`). The mark is made before the reported ids are
        read, so a worker either is among them or finds the mark and terminates itself: none is
        left (still starting) to wait forever for a queue's lock that a terminated worker held.
        Files, not a multiprocessing queue or event, so that no worker holds a lock for this.
        """
        directory = self._worker_dirs.get(pool)
        if directory is None:  # pragma: no cover - every pool has one
            return
        (directory / CLOSING).touch()
        reported = {int(path.name) for path in directory.iterdir() if path.name.isdigit()}
        for process in multiprocessing.active_children():  # live children: no reused ids
            if process.pid in reported:
                process.terminate()

    def _forget(self, pool: cf.ProcessPoolExecutor) -> None:
        directory = self._worker_dirs.pop(pool, None)
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _replace_pool(self, broken: cf.ProcessPoolExecutor) -> None:
        """Replace ``broken`` (once, however many tasks saw it break)."""
        with self._pool_lock:
            if self._pool is broken:
                _logger.warning("a worker process died: restarting the process pool")
                self._pool = self._new_pool()
                broken.shutdown(wait=False, cancel_futures=True)
                self._forget(broken)

    # ------------------------------------------------------------------ running
    def run(
        self, context: RunContext, tasks: Sequence[SegmentTask]
    ) -> Generator[SegmentResult, None, None]:
        """Run ``tasks`` in the pool; yield their results as they complete.

        Raises:
            RunnerError: When a task still fails after its retries, fails with an error that
                is not retried (`pytams.core.retry`), or the runner was not entered (``with
                runner:``).
            TAMSError: A framework error met by a task, as it is.
        """
        loop = self._loop
        if loop is None:
            msg = "AsyncioRunner.run needs the runner entered first: with AsyncioRunner(...) as r"
            raise RunnerError(msg)
        attempts = Attempts(self.retries)
        rebuilds = [0]
        todo = units(context, tasks, self.workers)
        if not todo:
            return
        try:
            token, blob = self._ship(context)
        except Exception as error:
            attempts.failed(todo[0][0], error)  # a pickling error is not retried: raises
            raise
        futures = {
            asyncio.run_coroutine_threadsafe(self._one(token, blob, unit, attempts, rebuilds), loop)
            for unit in todo
        }
        try:
            pending = futures
            while pending:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    yield from future.result()
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()
                    self._abandoned = True

    def _ship(self, context: RunContext) -> tuple[str, bytes]:
        """The token and bytes of ``context``, pickled once per context object."""
        shipped = self._shipped
        if shipped is None or shipped[0] is not context:
            shipped = self._shipped = (context, new_token(), pack_context(context))
        return shipped[1], shipped[2]

    async def _one(
        self,
        token: str,
        context: bytes,
        unit: tuple[SegmentTask, ...],
        attempts: Attempts,
        rebuilds: list[int],
    ) -> list[SegmentResult]:
        """One unit (a task, or a batch of a batched model), retried on failure."""
        loop = asyncio.get_running_loop()
        task = unit[0]
        payload: bytes | None = None
        while True:
            pool = self._pool
            if pool is None:
                msg = "the AsyncioRunner was closed while tasks were running"
                raise RunnerError(msg)
            try:
                if payload is None:
                    payload = pack_unit(unit)
                return await loop.run_in_executor(pool, run_packed, token, context, payload)
            except BrokenProcessPool as exc:
                if self._pool is pool:
                    rebuilds[0] += 1
                    if rebuilds[0] > MAX_POOL_REBUILDS:
                        msg = (
                            f"worker processes died {rebuilds[0]} times in one phase; "
                            f"last while running trajectory {task.key}. Fix: check the "
                            "model's memory use and native code (a crash kills the "
                            "worker), and that a script starting the run guards it with "
                            "if __name__ == '__main__': (workers are spawned and "
                            "re-import the main script)"
                        )
                        raise RunnerError(msg) from exc
                    self._replace_pool(pool)
            except Exception as exc:  # the model's ModelError, or the task failed to travel
                attempts.failed(task, exc)  # returns to retry, or raises


def _start_worker(directory: str) -> None:
    """The pool's initializer: report this worker, and end it if its pool is closing.

    Args:
        directory: The pool's worker directory: the worker creates a file named by its
            process id there, then terminates itself if the pool's ``closing`` mark exists
            (or the directory does not: the pool was closed and forgotten).
    """
    try:
        Path(directory, str(os.getpid())).touch()
    except OSError:
        closing = True
    else:
        closing = Path(directory, CLOSING).exists()  # after reporting: see _terminate_workers
    if closing:
        os.kill(os.getpid(), signal.SIGTERM)


async def _drain() -> None:
    """Cancel and await the loop's remaining tasks (before the loop stops)."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
