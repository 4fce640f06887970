"""pytams.runners: parallel runners for pytams (``[runner] type = "asyncio"`` or ``"dask"``).

Both follow pytams-core's `Runner` protocol: one runner (one pool, one cluster) lives for a
whole run, results are yielded as tasks complete, and closing the iterator cancels the rest.
Both follow the retry rule of `pytams.core.retry`: a task whose model raises, or whose worker
was lost, is retried ``[runner] retries`` times; after that the run stops with
`pytams.core.errors.RunnerError` (the last error chained as its cause) and the database stays
resumable. A framework error is never retried.
"""

from pytams.runners.asyncio_runner import AsyncioRunner
from pytams.runners.dask_runner import DaskRunner

__all__ = ["AsyncioRunner", "DaskRunner"]
