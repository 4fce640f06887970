"""How a run's context and its units of tasks travel to a worker.

The context (`RunContext`) travels once per run: the runner pickles it once (`pack_context`)
and names it by a token (`new_token`); each unit travels pickled on its own (`pack_unit`) with
that token and, with asyncio, the context's bytes (`run_packed`). With dask the bytes are
not a task's argument: a worker plugin offers them to every worker, present and future, once
(`offer`, `run_offered`). A worker unpickles a context the first time a task needs it and
keeps the last `CACHED_CONTEXTS` of them, so a task does not unpickle it again.

Unpickled by the pool or by dask, a context whose model cannot be re-imported on the worker (a
model file it cannot find: a `ConfigError`) would kill the worker process (asyncio) or fail as
dask's "Error during deserialization" (on the scheduler, which then needs the model too).
Unpickled by the task, it is that task's error, under the retry rule of `pytams.core.retry`
(and nothing is cached: the next task tries again).
"""

from __future__ import annotations

import pickle
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from pytams.core.batch import run_unit
from pytams.core.retry import WorkerLostError
from pytams.core.segment import RunContext, SegmentResult, SegmentTask

# contexts a worker process keeps unpickled (the current run's, and the one before it)
CACHED_CONTEXTS = 2

_contexts: OrderedDict[str, RunContext] = OrderedDict()  # token -> context, oldest first
_offered: dict[str, bytes] = {}  # token -> the context's bytes, offered to this worker (dask)
_lock = threading.Lock()  # a dask worker may run tasks in several threads


class ContextMissingError(WorkerLostError):
    """A task met a worker without its run's context: the runner offers it again."""


def new_token() -> str:
    """A fresh token naming one context shipped by one runner."""
    return uuid.uuid4().hex


def pack_context(context: RunContext, dumps: Callable[[Any], bytes] | None = None) -> bytes:
    """``context`` pickled for `run_packed`, once per run.

    Args:
        context: The run's context.
        dumps: The pickler (dask's falls back to cloudpickle); the standard library's if None.
    """
    if dumps is None:
        return pickle.dumps(context, protocol=pickle.HIGHEST_PROTOCOL)
    return dumps(context)


def pack_unit(unit: Sequence[SegmentTask], dumps: Callable[[Any], bytes] | None = None) -> bytes:
    """A unit (a task, or a batch of a batched model) pickled for `run_packed`."""
    if dumps is None:
        return pickle.dumps(tuple(unit), protocol=pickle.HIGHEST_PROTOCOL)
    return dumps(tuple(unit))


def run_packed(token: str, context: bytes, unit: bytes) -> list[SegmentResult]:
    """Run a `pack_unit` payload with the context ``token`` names (in a worker).

    Args:
        token: The context's token (`new_token`).
        context: The context's `pack_context` bytes, unpickled only when this process does
            not keep the context already.
        unit: The unit's `pack_unit` bytes (cloudpickle's payloads load as well).
    """
    return run_unit(cached_context(token, context), pickle.loads(unit))


def offer(token: str, payload: bytes) -> None:
    """Keep a context's `pack_context` bytes in this worker for `run_offered` (not unpickled)."""
    with _lock:
        _offered[token] = payload


def withdraw(token: str) -> None:
    """Drop the context ``token`` names from this worker: its bytes and its unpickled copy."""
    with _lock:
        _offered.pop(token, None)
        _contexts.pop(token, None)


def run_offered(token: str, unit: bytes) -> list[SegmentResult]:
    """Run a `pack_unit` payload with the context offered to this worker under ``token``.

    Raises:
        ContextMissingError: The context was withdrawn (its run moved on) or never reached
            this worker.
    """
    with _lock:
        payload = _offered.get(token)
    if payload is None:
        msg = f"the run's context {token} is not on this worker"
        raise ContextMissingError(msg)
    return run_packed(token, payload, unit)


def cached_context(token: str, payload: bytes) -> RunContext:
    """The context ``token`` names: this process's copy, else ``payload`` unpickled and kept."""
    with _lock:
        context = _contexts.get(token)
        if context is not None:
            _contexts.move_to_end(token)
            return context
    context = pickle.loads(payload)  # an error here is the task's (not cached)
    with _lock:
        _contexts[token] = context
        _contexts.move_to_end(token)
        while len(_contexts) > CACHED_CONTEXTS:
            _contexts.popitem(last=False)
    return context  # type: ignore[no-any-return]


def cached_tokens() -> list[str]:
    """The tokens of the contexts this process keeps, oldest first (for tests)."""
    with _lock:
        return list(_contexts)
