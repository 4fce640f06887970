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

The ``[dask]`` keys of the original pyTAMS (1.0.0) keep their meaning with ``backend =
"slurm"``: `translate_pytams_keys` turns them into SLURMCluster keywords, and
``slurm_config_file`` names a dask-jobqueue YAML file whose values are read as dask's
configuration (the file is left where it is).
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pytams.core.batch import run_unit, units
from pytams.core.config import Config
from pytams.core.errors import ConfigError, MissingComponentError, RunnerError
from pytams.core.segment import RunContext, SegmentResult, SegmentTask
from pytams.runners._retry import Attempts

_logger = logging.getLogger("pytams.runners")

BACKENDS = ("local", "address", "slurm")

# pyTAMS [dask] key -> the SLURMCluster keyword of the same meaning
PYTAMS_RENAMED: dict[str, str] = {
    "ncores_per_worker": "cores",
    "job_prologue": "job_script_prologue",
    "worker_walltime": "walltime",
}
# pyTAMS [dask] key -> the sbatch option it adds to job_extra_directives, and the spellings of
# that option already in job_extra_directives that it conflicts with
PYTAMS_DIRECTIVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ntasks_per_job": ("--ntasks", ("--ntasks", "-n")),
    "ntasks_per_node": ("--tasks-per-node", ("--tasks-per-node", "--ntasks-per-node")),
}
# pyTAMS's keys of its Slurm backend (queue has the same name in SLURMCluster)
PYTAMS_SLURM_KEYS = ("slurm_config_file", "queue", *PYTAMS_RENAMED, *PYTAMS_DIRECTIVES)

_SLURM_FIX = (
    "use SLURMCluster's keyword names (queue, account, cores, memory, processes, walltime, "
    "job_extra_directives, job_script_prologue, interface, python, ...), a pyTAMS key "
    "(slurm_config_file, ntasks_per_job, ntasks_per_node, ncores_per_worker, job_prologue, "
    "worker_walltime) or a named profile (config_name) of dask-jobqueue's configuration"
)
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '([^']+)'")


def split_dask_table(table: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The backend named by a ``[dask]`` table and the keywords for its cluster class.

    With ``backend = "slurm"`` the pyTAMS keys are translated (`translate_pytams_keys`), each
    translation logged once at INFO.

    Raises:
        ConfigError: For an unknown backend, a missing ``address``, a pyTAMS key that does not
            apply to the backend, or a pyTAMS key given with its SLURMCluster counterpart.
    """
    kwargs = {key: _plain(value) for key, value in table.items()}
    backend = kwargs.pop("backend", "local")
    if backend not in BACKENDS:
        msg = f"[dask] backend = {backend!r} is not a dask backend; fix: one of " + ", ".join(
            repr(b) for b in BACKENDS
        )
        raise ConfigError(msg)
    if backend == "slurm":
        kwargs, notes = translate_pytams_keys(kwargs)
        for note in notes:
            _logger.info("%s", note)
        if "address" in kwargs:
            raise ConfigError(_address_only(backend))
        return backend, kwargs
    _refuse_nworker(kwargs)
    slurm_only = [key for key in kwargs if key in PYTAMS_SLURM_KEYS]
    if slurm_only:
        keys = ", ".join(slurm_only)
        msg = (
            f'[dask] {keys}: pyTAMS Slurm key(s), only read with backend = "slurm" (backend '
            f'is {backend!r}); fix: set backend = "slurm" or remove {keys}'
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
        raise ConfigError(_address_only(backend))
    return backend, kwargs


def translate_pytams_keys(table: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A ``[dask]`` table with pyTAMS's Slurm keys turned into SLURMCluster keywords.

    ``ncores_per_worker``, ``job_prologue`` and ``worker_walltime`` become ``cores``,
    ``job_script_prologue`` and ``walltime``; ``ntasks_per_job = N`` and ``ntasks_per_node =
    N`` append ``--ntasks=N`` and ``--tasks-per-node=N`` to ``job_extra_directives``.
    ``queue`` and ``slurm_config_file`` (read by `make_slurm_cluster`) are kept as they are,
    and so is every other key. Nothing is read or logged here.

    Args:
        table: A ``[dask]`` table (its ``backend`` key, if any, is kept).

    Returns:
        The new table, and one line per translated key (for the log).

    Raises:
        ConfigError: For ``nworker`` (the number of workers is ``[runner] workers``), a pyTAMS
            key of the wrong type, or one given together with its SLURMCluster counterpart.
    """
    _refuse_nworker(table)
    out: dict[str, Any] = {}
    notes: list[str] = []
    added: list[str] = []
    for key, value in table.items():
        if key in PYTAMS_RENAMED:
            native = PYTAMS_RENAMED[key]
            if native in table:
                msg = (
                    f"[dask] {key} (pyTAMS) and {native} set the same value; fix: give only "
                    f"one of {key} and {native}"
                )
                raise ConfigError(msg)
            _check_pytams_value(key, value)
            out[native] = _plain(value)
            notes.append(f"[dask] {key} = {_shown(value)} (pyTAMS) is {native} here")
        elif key in PYTAMS_DIRECTIVES:
            _check_pytams_value(key, value)
            option, spellings = PYTAMS_DIRECTIVES[key]
            for directive in _directives(table):
                if _option_of(directive) in spellings or _is_short_n(directive, spellings):
                    msg = (
                        f"[dask] {key} (pyTAMS) and job_extra_directives' {_shown(directive)} "
                        f"set the same sbatch option; fix: give only one of {key} and "
                        f"{_shown(directive)}"
                    )
                    raise ConfigError(msg)
            directive = f"{option}={value}"
            added.append(directive)
            notes.append(
                f"[dask] {key} = {_shown(value)} (pyTAMS) is job_extra_directives "
                f"{_shown(directive)} here"
            )
        elif key == "slurm_config_file":
            _check_pytams_value(key, value)
            out[key] = value
        else:
            out[key] = _plain(value)
    if added:
        out["job_extra_directives"] = [*_directives(table), *added]
    return out, notes


def _check_pytams_value(key: str, value: Any) -> None:
    """A pyTAMS key's value has the type pyTAMS read."""
    if key in ("ntasks_per_job", "ntasks_per_node", "ncores_per_worker"):
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        expected, example = "a positive integer", f"{key} = 4"
    elif key == "job_prologue":
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        expected, example = "a list of strings", f'{key} = ["module load python"]'
    elif key == "worker_walltime":
        ok = isinstance(value, str)
        expected, example = 'a string "HH:MM:SS"', f'{key} = "04:00:00"'
    else:  # slurm_config_file
        ok = isinstance(value, str) and bool(value)
        expected, example = "the path of a YAML file", f'{key} = "jobqueue.yaml"'
    if not ok:
        msg = f"[dask] {key} = {_shown(value)} (pyTAMS) must be {expected}; fix: e.g. {example}"
        raise ConfigError(msg)


def _directives(table: Mapping[str, Any]) -> list[str]:
    """The ``job_extra_directives`` given in ``table`` (a list of strings)."""
    given = table.get("job_extra_directives", [])
    if not isinstance(given, (list, tuple)) or not all(isinstance(d, str) for d in given):
        msg = (
            f"[dask] job_extra_directives = {_shown(given)} must be a list of strings; fix: "
            'e.g. job_extra_directives = ["--exclusive"]'
        )
        raise ConfigError(msg)
    return [str(d) for d in given]


def _option_of(directive: str) -> str:
    """The option name of an sbatch directive: ``"--ntasks=4"`` -> ``"--ntasks"``."""
    words = directive.split("=", 1)[0].split()
    return words[0] if words else ""


def _is_short_n(directive: str, spellings: tuple[str, ...]) -> bool:
    """``-n4`` (the short form of ``--ntasks`` with its value attached)."""
    option = _option_of(directive)
    return "-n" in spellings and option.startswith("-n") and option[2:].isdigit()


def _refuse_nworker(table: Mapping[str, Any]) -> None:
    if "nworker" in table:
        msg = (
            f"[dask] nworker = {_shown(table['nworker'])} (pyTAMS): the number of workers is "
            f"not a [dask] key here; fix: set [runner] workers = {_shown(table['nworker'])} "
            "and remove nworker"
        )
        raise ConfigError(msg)


def _address_only(backend: str) -> str:
    return (
        f'[dask] address is only read with backend = "address" (backend is {backend!r}); '
        'fix: set backend = "address" or remove address'
    )


def _shown(value: Any) -> str:
    """A value as written in TOML (strings in double quotes)."""
    try:
        return json.dumps(_plain(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def load_slurm_config_file(path: str) -> None:
    """Merge a dask-jobqueue YAML file into dask's configuration (pyTAMS's ``slurm_config_file``).

    pyTAMS moved the file into ``~/.config/dask``; here it stays where it is, and its values
    take precedence over dask's configuration for the rest of the process (jobs are created,
    and read that configuration, after the cluster is built, so a scope around the
    construction would not do). A ``[dask]`` key still overrides a value of the file.

    Args:
        path: The file, relative to the working directory (``~`` expanded).

    Raises:
        ConfigError: When the file does not exist or is not a YAML mapping.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        msg = (
            f"[dask] slurm_config_file = {_shown(path)}: no such file ({file.absolute()}); fix: "
            "give the path of a dask-jobqueue YAML file (relative to the working directory), "
            "or remove slurm_config_file"
        )
        raise ConfigError(msg)
    import dask.config

    try:
        loaded = dask.config.collect(paths=[str(file)], env={})
    except (ValueError, OSError) as exc:
        msg = (
            f"[dask] slurm_config_file = {_shown(path)}: not a dask configuration file "
            f"({_one_line(exc)}); fix: a YAML mapping such as jobqueue: {{slurm: {{queue: "
            "normal, cores: 1, memory: 2GB}}"
        )
        raise ConfigError(msg) from exc
    dask.config.update(dask.config.config, loaded, priority="new")
    _logger.info(
        "[dask] slurm_config_file = %s (pyTAMS) is read as dask configuration here (the file "
        "is not moved)",
        _shown(path),
    )


def make_slurm_cluster(table: Mapping[str, Any]) -> Any:
    """A `dask_jobqueue.SLURMCluster` from a ``[dask]`` table (its ``backend`` key ignored).

    pyTAMS keys are translated (`translate_pytams_keys`), and a ``slurm_config_file`` is
    merged into dask's configuration first (`load_slurm_config_file`). No job is submitted
    until the cluster is scaled; ``cluster.job_script()`` shows the batch script the jobs
    will run.

    Raises:
        ConfigError: For a pyTAMS key as in `translate_pytams_keys`, a missing
            ``slurm_config_file``, or when SLURMCluster rejects a keyword or misses a value.
    """
    kwargs, notes = translate_pytams_keys({k: v for k, v in table.items() if k != "backend"})
    for note in notes:
        _logger.info("%s", note)
    SLURMCluster = _import_slurm_cluster()  # noqa: N806 - a class
    config_file = kwargs.pop("slurm_config_file", None)
    if config_file is not None:
        load_slurm_config_file(config_file)
    try:
        return SLURMCluster(**kwargs)
    except (TypeError, ValueError) as exc:
        rejected = _rejected_keys(exc)
        if rejected:
            keys = ", ".join(rejected)
            msg = (
                f"[dask] {keys}: rejected by dask-jobqueue's SLURMCluster (not a keyword of it; "
                f'backend = "slurm"); fix: remove {keys}, or {_SLURM_FIX}'
            )
        else:
            msg = (
                f"[dask] {', '.join(kwargs) or '(no keys)'}: dask-jobqueue's SLURMCluster "
                f'could not be built from these keys (backend = "slurm"): {_one_line(exc)}; '
                f"fix: {_SLURM_FIX}"
            )
        raise ConfigError(msg) from exc


def _rejected_keys(exc: BaseException) -> list[str]:
    """The keywords named "unexpected keyword argument" in ``exc`` or its causes."""
    keys: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        keys += [k for k in _UNEXPECTED_KEYWORD.findall(str(current)) if k not in keys]
        current = current.__cause__ or current.__context__
    return keys


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


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
            except (TypeError, RuntimeError) as exc:
                # an unknown keyword reaches the workers: a TypeError, or with worker
                # processes "Nanny failed to start" caused by that TypeError
                rejected = _rejected_keys(exc)
                if rejected:
                    keys = ", ".join(rejected)
                    msg = (
                        f"[dask] {keys}: rejected by distributed's LocalCluster (not a keyword "
                        f'of it; backend = "local"); fix: remove {keys}, or use LocalCluster\'s '
                        "keyword names (memory_limit, processes, ...)"
                    )
                elif isinstance(exc, TypeError):
                    keys = ", ".join(self.cluster_kwargs) or "(no keys)"
                    msg = (
                        f"[dask] {keys}: distributed's LocalCluster could not be built from "
                        f'these keys (backend = "local"): {_one_line(exc)}; fix: use '
                        "LocalCluster's keyword names"
                    )
                else:
                    raise
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
