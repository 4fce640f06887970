"""Runners execute trajectory tasks: the `Runner` protocol, `SerialRunner`, and discovery.

Runners from other packages register in the entry-point group ``pytams.runners`` under the
name used in ``[runner] type``; each is built as ``RunnerClass(config)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from pytams.core.batch import is_batched, run_batch
from pytams.core.config import Config
from pytams.core.errors import MissingComponentError, ModelError
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment

_logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

PROVIDERS = {"asyncio": "pytams-runners", "dask": "pytams-runners"}


@runtime_checkable
class Runner(Protocol):
    """Executes tasks; one runner (one cluster) lives for a whole run.

    ``run`` yields results as tasks complete, in any order. Closing the iterator early (the
    walltime, Ctrl-C) cancels the tasks not yet finished.
    """

    def __enter__(self) -> Runner: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        """Run ``tasks``; yield their results as they complete."""
        ...


class SerialRunner:
    """Runs tasks one after the other in this process (the embedded default).

    A task whose model raises is retried ``[runner] retries`` times, then its ModelError
    propagates.
    """

    def __init__(self, config: Config | None = None) -> None:
        self.retries = 0 if config is None else config.runner.retries

    def __enter__(self) -> SerialRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        """See `Runner`. A batched model runs all the tasks as one batch."""
        if is_batched(context):
            yield from self._with_retries(run_batch, context, list(tasks))
            return
        for task in tasks:
            yield self._with_retries(run_segment, context, task)

    def _with_retries(
        self, function: Callable[[RunContext, T], R], context: RunContext, work: T
    ) -> R:
        for attempt in range(self.retries + 1):
            try:
                return function(context, work)
            except ModelError as exc:
                if attempt == self.retries:
                    raise
                _logger.warning(
                    "retrying (attempt %d of %d): %s", attempt + 2, self.retries + 1, exc
                )
        raise AssertionError("unreachable")  # pragma: no cover


def make_runner(config: Config) -> Runner:
    """Build the runner named by ``[runner] type``.

    Raises:
        MissingComponentError: When the package providing that runner is not installed.
    """
    name = config.runner.type
    if name == "serial":
        return SerialRunner(config)
    found = entry_points(group="pytams.runners", name=name)
    if not found:
        package = PROVIDERS.get(name, "the package that provides it")
        msg = (
            f"[runner] type = {name!r} needs {package}: pip install {package} "
            '(or use type = "serial")'
        )
        raise MissingComponentError(msg)
    runner_class = next(iter(found)).load()
    runner: Runner = runner_class(config)
    return runner
