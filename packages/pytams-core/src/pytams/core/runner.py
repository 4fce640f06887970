"""Runners execute trajectory tasks: the `Runner` protocol and `SerialRunner`.

Runners register in the entry-point group ``pytams.runners`` (see `pytams.core.plugins`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Protocol, runtime_checkable

from pytams.core.batch import is_batched, run_unit
from pytams.core.config import Config
from pytams.core.retry import call_with_retries
from pytams.core.segment import RunContext, SegmentResult, SegmentTask


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
            yield from self._with_retries(context, tuple(tasks), "batch")
            return
        for task in tasks:
            yield from self._with_retries(context, (task,), task.key)

    def _with_retries(
        self, context: RunContext, unit: tuple[SegmentTask, ...], what: object
    ) -> list[SegmentResult]:
        return call_with_retries(lambda: run_unit(context, unit), self.retries, what)
