"""How a run's context and its units of tasks travel to a worker.

The context (`RunContext`) travels once per run: the runner pickles it once (`pack_context`)
and names it by a token (`new_token`); each unit travels pickled on its own (`pack_unit`) with
that token and the context's bytes (with dask, a reference to them, scattered once to the
workers). A worker unpickles a context the first time it meets its token and keeps the last
`CACHED_CONTEXTS` of them (`run_packed`), so a task does not unpickle it again.

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
from pytams.core.segment import RunContext, SegmentResult, SegmentTask

# contexts a worker process keeps unpickled (the current run's, and the one before it)
CACHED_CONTEXTS = 2

_contexts: OrderedDict[str, RunContext] = OrderedDict()  # token -> context, oldest first
_lock = threading.Lock()  # a dask worker may run tasks in several threads


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
