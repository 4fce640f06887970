"""`DaskRunner`: tasks on a dask cluster, local, already running, or made of Slurm jobs.

The ``[dask]`` table chooses the cluster; ``backend`` is the only key of ours:

- ``backend = "local"`` (default): a `distributed.LocalCluster` of ``[runner] workers``
  single-threaded worker processes; every other ``[dask]`` key is a LocalCluster keyword.
- ``backend = "address"``: connect to the scheduler at ``address`` (the cluster is not ours:
  it is neither scaled nor closed).
- ``backend = "slurm"``: a `dask_jobqueue.SLURMCluster`; every other ``[dask]`` key is passed
  to it unchanged (``queue``, ``account``, ``cores``, ``memory``, ``processes``, ``walltime``,
  ``job_extra_directives``, ``job_script_prologue``, ``interface``, ``python``,
  ``worker_extra_args``, ``config_name`` for a named profile of dask-jobqueue's configuration,
  ...). Values left out come from dask-jobqueue's configuration; nothing is hard-coded. The
  cluster adapts to exactly ``[runner] workers`` workers, so a worker job that ends (its
  walltime, a node failure) is replaced by a new job.
"""

from __future__ import annotations

import logging
import signal
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from pytams.core.batch import run_unit, units
from pytams.core.config import Config
from pytams.core.errors import ConfigError, MissingComponentError, RunnerError
from pytams.core.segment import RunContext, SegmentResult, SegmentTask
from pytams.runners._retry import Attempts

_logger = logging.getLogger("pytams.runners")

BACKENDS = ("local", "address", "slurm")


def split_dask_table(table: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The backend named by a ``[dask]`` table and the keywords for its cluster class.

    Raises:
        ConfigError: For an unknown backend or a missing ``address``.
    """
    kwargs = {key: _plain(value) for key, value in table.items()}
    backend = kwargs.pop("backend", "local")
    if backend not in BACKENDS:
        msg = f"[dask] backend = {backend!r} is not a dask backend; fix: one of " + ", ".join(
            repr(b) for b in BACKENDS
        )
        raise ConfigError(msg)
    if backend == "address":
        if "address" not in kwargs:
            msg = (
                '[dask] backend = "address" needs the scheduler\'s address; fix: add '
                'address = "tcp://host:8786"'
            )
            raise ConfigError(msg)
        extra = sorted(set(kwargs) - {"address"})
        if extra:
            msg = (
                f'[dask] {", ".join(extra)}: no effect with backend = "address" (the '
                "cluster is already running); fix: remove them"
            )
            raise ConfigError(msg)
    elif "address" in kwargs:
        msg = (
            f'[dask] address is only read with backend = "address" (backend is {backend!r}); '
            'fix: set backend = "address" or remove address'
        )
        raise ConfigError(msg)
    return backend, kwargs


def make_slurm_cluster(table: Mapping[str, Any]) -> Any:
    """A `dask_jobqueue.SLURMCluster` from a ``[dask]`` table (its ``backend`` key ignored).

    No job is submitted until the cluster is scaled; ``cluster.job_script()`` shows the
    batch script the jobs will run.

    Raises:
        ConfigError: When SLURMCluster rejects a keyword or misses a value.
    """
    SLURMCluster = _import_slurm_cluster()  # noqa: N806 - a class
    kwargs = {k: _plain(v) for k, v in table.items() if k != "backend"}
    try:
        return SLURMCluster(**kwargs)
    except (TypeError, ValueError) as exc:
        msg = (
            f'[dask] (backend = "slurm"): dask-jobqueue\'s SLURMCluster rejected '
            f"{sorted(kwargs)}: {exc}. Fix: use SLURMCluster's keyword names "
            "(queue, account, cores, memory, processes, walltime, job_extra_directives, "
            "job_script_prologue, interface, python, ...) or a named profile "
            "(config_name) from dask-jobqueue's configuration"
        )
        raise ConfigError(msg) from exc


def _import_slurm_cluster() -> Any:
    """dask-jobqueue's SLURMCluster, imported without its change to Ctrl-C.

    Importing dask_jobqueue replaces the process's SIGINT handler by ``sys.exit()``, which
    turns Ctrl-C into a silent exit with status 0; the previous handler is put back so Ctrl-C
    stays a KeyboardInterrupt (the run stops, the cluster and its jobs are shut down).
    """
    previous = signal.getsignal(signal.SIGINT)
    from dask_jobqueue.slurm import SLURMCluster

    changed = signal.getsignal(signal.SIGINT) is not previous
    if changed and previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, previous)
    return SLURMCluster


class DaskRunner:
    """Runs tasks on a dask cluster (``[runner] type = "dask"``), one cluster for the run.

    A task whose model raises is retried ``[runner] retries`` times, then the run stops with
    `RunnerError` (the model's error as its cause). A worker killed mid-task is replaced (by its
    nanny, or a new Slurm job) and dask reruns its tasks; that is not counted as a retry
    unless dask itself gives up on the task (``KilledWorker``).

    Args:
        config: The run's configuration: ``[runner] workers``, ``retries`` and ``[dask]``.
        workers: Overrides ``[runner] workers``.
        retries: Overrides ``[runner] retries``.
        dask: Overrides the ``[dask]`` table.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        workers: int | None = None,
        retries: int | None = None,
        dask: Mapping[str, Any] | None = None,
    ) -> None:
        self.workers = (
            workers if workers is not None else (config.runner.workers if config is not None else 1)
        )
        self.retries = (
            retries if retries is not None else (config.runner.retries if config is not None else 0)
        )
        table = dask if dask is not None else (config.dask if config is not None else {})
        self.backend, self.cluster_kwargs = split_dask_table(table)
        self.cluster: Any = None
        self.client: Any = None
        self._depth = 0

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> DaskRunner:
        """Start (or connect to) the cluster; re-entrant: nested uses share one cluster."""
        self._depth += 1
        if self._depth == 1:
            try:
                self._start()
            except BaseException:
                self._depth = 0
                self._stop()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the client and the cluster we started (cancelling Slurm jobs)."""
        self._depth -= 1
        if self._depth == 0:
            self._stop()

    def _start(self) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a dependency of this package
            msg = '[runner] type = "dask" needs distributed: pip install pytams-runners'
            raise MissingComponentError(msg) from exc
        if self.backend == "address":
            address = self.cluster_kwargs["address"]
            try:
                self.client = Client(address)  # type: ignore[no-untyped-call]
            except OSError as exc:
                msg = (
                    f"[dask] address = {address!r}: no dask scheduler answers there ({exc}); "
                    "fix: start one (dask scheduler) or correct the address"
                )
                raise RunnerError(msg) from exc
            return
        if self.backend == "slurm":
            self.cluster = make_slurm_cluster(self.cluster_kwargs)
            self.cluster.adapt(minimum=self.workers, maximum=self.workers)
            _logger.info(
                "Slurm cluster: %d workers requested; job script:\n%s",
                self.workers,
                self.cluster.job_script(),
            )
        else:
            kwargs: dict[str, Any] = {
                "n_workers": self.workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": ":0",
            }
            kwargs.update(self.cluster_kwargs)
            try:
                self.cluster = LocalCluster(**kwargs)  # type: ignore[no-untyped-call]
            except TypeError as exc:
                msg = (
                    f'[dask] (backend = "local"): LocalCluster rejected {sorted(kwargs)}: '
                    f"{exc}; fix: use LocalCluster's keyword names"
                )
                raise ConfigError(msg) from exc
        self.client = Client(self.cluster)  # type: ignore[no-untyped-call]

    def _stop(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # pragma: no cover - best effort at shutdown
                _logger.warning("closing the dask client: %s", exc)
        if cluster is not None:
            try:
                cluster.close()
            except Exception as exc:  # pragma: no cover - best effort at shutdown
                _logger.warning("closing the dask cluster: %s", exc)

    # ------------------------------------------------------------------ running
    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        """Submit ``tasks``; yield their results as they complete.

        Raises:
            RunnerError: When a task still fails after its retries, or the runner was not
                entered (``with runner:``).
        """
        from distributed import as_completed

        client = self.client
        if client is None:
            msg = "DaskRunner.run needs the runner entered first: with DaskRunner(...) as r"
            raise RunnerError(msg)
        attempts = Attempts(self.retries)
        task_of: dict[Any, tuple[SegmentTask, ...]] = {}

        def submit(unit: tuple[SegmentTask, ...]) -> Any:
            future = client.submit(
                run_unit,
                context,
                unit,
                pure=False,
                key=f"pytams-{unit[0].key}-{uuid.uuid4().hex[:12]}",
            )
            task_of[future] = unit
            return future

        # a unit is a task, or a batch of a batched model (one per worker); results travel
        # with the completion events (no extra round trip per result)
        completed = as_completed(  # type: ignore[no-untyped-call]
            [submit(unit) for unit in units(context, tasks, self.workers)],
            with_results=True,
            raise_errors=False,
        )
        try:
            for future, outcome in completed:
                unit = task_of.pop(future)
                task = unit[0]
                status = future.status
                if status == "finished":
                    future.release()
                    yield from outcome
                    continue
                exc = (
                    future.exception()
                    if status == "error"
                    else RunnerError(f"dask lost the task of trajectory {task.key} ({status})")
                )
                future.release()
                attempts.failed(task, exc)
                completed.add(submit(unit))  # type: ignore[no-untyped-call]
        finally:
            if task_of:
                client.cancel(list(task_of))
            task_of.clear()


def _plain(value: Any) -> Any:
    """TOML values as dask expects them: plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
