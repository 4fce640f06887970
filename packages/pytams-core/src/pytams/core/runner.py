"""Runners execute trajectory tasks: the `Runner` protocol and `SerialRunner`.

Runners register in the entry-point group ``pytams.runners`` (see `pytams.core.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from pytams.core.batch import is_batched, run_batch
from pytams.core.config import Config
from pytams.core.retry import call_with_retries
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment

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

    A task fails and is retried by the rule of `pytams.core.retry`; after ``[runner]
    retries`` reruns its error (a ModelError) propagates as it is.
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
        what = work.key if isinstance(work, SegmentTask) else "batch"
        return call_with_retries(lambda: function(context, work), self.retries, what)
