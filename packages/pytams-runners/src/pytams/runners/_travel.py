"""How a unit of tasks travels to a worker: pickled by the runner, unpickled by the task.

Unpickled by the pool or by dask, a context whose model cannot be re-imported on the worker (a
model file it cannot find: a `ConfigError`) kills the worker process (asyncio) or fails as
dask's "Error during deserialization" (on the scheduler, which then needs the model too).
Unpickled by the task, it is that task's error, under the retry rule of `pytams.core.retry`.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

from pytams.core.batch import run_unit
from pytams.core.segment import RunContext, SegmentResult, SegmentTask


def pack(
    context: RunContext,
    unit: Sequence[SegmentTask],
    dumps: Callable[[Any], bytes] | None = None,
) -> bytes:
    """``(context, unit)`` pickled for `run_packed`.

    Args:
        context: The run's context.
        unit: A task, or a batch of a batched model.
        dumps: The pickler (dask's falls back to cloudpickle); the standard library's if None.
    """
    if dumps is None:
        return pickle.dumps((context, tuple(unit)), protocol=pickle.HIGHEST_PROTOCOL)
    return dumps((context, tuple(unit)))


def run_packed(payload: bytes) -> list[SegmentResult]:
    """Run the unit of a `pack` payload (in a worker; cloudpickle's payloads load as well)."""
    context, unit = pickle.loads(payload)
    return run_unit(context, unit)
