"""Runners execute trajectory tasks: the `Runner` protocol, `SerialRunner`, and discovery.

Runners register in the entry-point group ``pytams.runners`` (see `pytams.core.plugins`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from pytams.core.batch import is_batched, run_batch
from pytams.core.config import Config
from pytams.core.errors import ModelError
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment

_logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Runner(Protocol):
    """Executes tasks; one runner (one cluster) lives for a whole run.

    ``run`` yields results as tasks complete, in any order. When it is a generator (a
    generator function), the framework closes it when it stops early (the walltime, Ctrl-C):
    its ``finally`` cancels the tasks not yet finished. A runner
    needs nothing beyond `pytams.core`'s exports: `RunContext`, `SegmentTask`,
    `SegmentResult` and `run_unit` (one task, or a batch of a batched model).
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
