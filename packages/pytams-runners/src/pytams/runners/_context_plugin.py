"""The dask worker plugin that offers a run's context to every worker, once (`DaskRunner`).

Its own module: it subclasses distributed's `WorkerPlugin`, imported only when dask runs.
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

from pytams.runners._travel import offer, withdraw


class ContextPlugin(WorkerPlugin):
    """Offers a run's context bytes to each worker (`pytams.runners._travel.offer`).

    dask sets it up on every worker when it is registered, and on every worker that joins or
    restarts later; withdrawing it (unregistering) drops the context from the workers.

    Args:
        token: The context's token (`pytams.runners._travel.new_token`).
        payload: Its `pytams.runners._travel.pack_context` bytes, unpickled by a task.
    """

    def __init__(self, token: str, payload: bytes) -> None:
        self.token = token
        self.payload = payload

    def setup(self, worker: Any) -> None:
        """Keep the bytes in the worker's process (not unpickled: a task's error is its own)."""
        offer(self.token, self.payload)

    def teardown(self, worker: Any) -> None:
        """Drop the context from the worker's process."""
        withdraw(self.token)
