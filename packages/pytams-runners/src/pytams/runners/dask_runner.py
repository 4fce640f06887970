"""`DaskRunner`: tasks on a dask cluster, local, already running, or made of batch jobs.

The ``[dask]`` table chooses the cluster; ``backend`` is the only key of ours:

- ``backend = "local"`` (default): a `distributed.LocalCluster` of ``[runner] workers``
  single-threaded worker processes; every other ``[dask]`` key is a LocalCluster keyword.
- ``backend = "address"``: connect to the scheduler at ``address`` (the cluster is not ours:
  it is neither scaled nor closed).
- a batch scheduler, ``backend = "slurm"``, ``"pbs"``, ``"sge"``, ``"lsf"``, ``"htcondor"``,
  ``"oar"`` or ``"moab"``: that dask-jobqueue cluster class (`JOBQUEUE_BACKENDS`); every other
  ``[dask]`` key is passed to it unchanged (``queue``, ``account``, ``cores``, ``memory``,
  ``processes``, ``walltime``, ``job_extra_directives``, ``job_script_prologue``,
  ``interface``, ``python``, ``worker_extra_args``, ``config_name`` for a named profile of
  dask-jobqueue's configuration, ...). Values left out come from dask-jobqueue's
  configuration; nothing is hard-coded. The cluster adapts to exactly ``[runner] workers``
  workers, so a worker job that ends (its walltime, a node failure) is replaced by a new job.

The ``[dask]`` keys of the original pyTAMS (1.0.0) keep their meaning with ``backend =
"slurm"``: `translate_pytams_keys` turns them into SLURMCluster keywords, and
``slurm_config_file`` names a dask-jobqueue YAML file whose values are read as dask's
configuration (the file is left where it is).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import logging
import re
import signal
import threading
import uuid
from collections.abc import Generator, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pytams.core.batch import units
from pytams.core.config import Config, plain
from pytams.core.errors import ConfigError, MissingComponentError, RunnerError
from pytams.core.logs import third_party_quiet
from pytams.core.retry import Attempts, WorkerLostError
from pytams.core.segment import RunContext, SegmentResult, SegmentTask
from pytams.runners._travel import (
    ContextMissingError,
    new_token,
    pack_context,
    pack_unit,
    run_offered,
)

_logger = logging.getLogger("pytams.runners")

# how many times a unit is sent again to a worker without its context before it counts as lost
CONTEXT_RESENDS = 3

# backend -> its dask-jobqueue cluster class, "module:Class"
JOBQUEUE_BACKENDS: dict[str, str] = {
    "slurm": "dask_jobqueue.slurm:SLURMCluster",
    "pbs": "dask_jobqueue.pbs:PBSCluster",
    "sge": "dask_jobqueue.sge:SGECluster",
    "lsf": "dask_jobqueue.lsf:LSFCluster",
    "htcondor": "dask_jobqueue.htcondor:HTCondorCluster",
    "oar": "dask_jobqueue.oar:OARCluster",
    "moab": "dask_jobqueue.moab:MoabCluster",
}
BACKENDS = ("local", "address", *JOBQUEUE_BACKENDS)

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
# what a pyTAMS-only key is with another dask-jobqueue backend
PYTAMS_ELSEWHERE: dict[str, str] = {
    **PYTAMS_RENAMED,
    "ntasks_per_job": "job_extra_directives",
    "ntasks_per_node": "job_extra_directives",
    "slurm_config_file": "config_name (a named profile of dask-jobqueue's configuration)",
}
# keywords of every dask-jobqueue cluster class (each class adds its own, see _keywords)
_COMMON_KEYWORDS = (
    "cores",
    "memory",
    "processes",
    "job_extra_directives",
    "job_script_prologue",
    "interface",
    "python",
    "worker_extra_args",
    "log_directory",
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
    kwargs = {key: plain(value) for key, value in table.items()}
    backend = kwargs.pop("backend", "local")
    if backend not in BACKENDS:
        msg = f"[dask] backend = {_shown(backend)} is not a dask backend; fix: one of " + ", ".join(
            _shown(b) for b in BACKENDS
        )
        raise ConfigError(msg)
    if backend == "slurm":
        kwargs, notes = translate_pytams_keys(kwargs)
        for note in notes:
            _logger.info("%s", note)
    else:
        _refuse_nworker(kwargs)
    if backend in JOBQUEUE_BACKENDS:
        _refuse_pytams_keys(backend, kwargs)
        if "address" in kwargs:
            raise ConfigError(_address_only(backend))
        return backend, kwargs
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
            out[native] = plain(value)
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
            out[key] = plain(value)
    if added:
        out["job_extra_directives"] = [*_directives(table), *added]
    return out, notes


def _refuse_pytams_keys(backend: str, kwargs: Mapping[str, Any]) -> None:
    """No pyTAMS-only Slurm key with a dask-jobqueue backend other than slurm."""
    if backend == "slurm":
        return
    given = [key for key in kwargs if key in PYTAMS_ELSEWHERE]
    if given:
        keys = ", ".join(given)
        instead = ", ".join(f"{PYTAMS_ELSEWHERE[key]} for {key}" for key in given)
        msg = (
            f'[dask] {keys}: pyTAMS Slurm key(s), only read with backend = "slurm" (backend is '
            f"{_shown(backend)}); fix: use {_class_name(backend)}'s keywords instead: {instead}"
        )
        raise ConfigError(msg)


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
        f'[dask] address is only read with backend = "address" (backend is {_shown(backend)}); '
        'fix: set backend = "address" or remove address'
    )


def _shown(value: Any) -> str:
    """A value as written in TOML (strings in double quotes)."""
    try:
        return json.dumps(plain(value), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def load_slurm_config_file(path: str) -> None:
    """Merge a dask-jobqueue YAML file into dask's configuration (pyTAMS's ``slurm_config_file``).

    pyTAMS moved the file into ``~/.config/dask``; here it stays where it is, and its values
    take precedence over dask's configuration for the rest of the process (jobs are created,
    and read that configuration, after the cluster is built, so a scope around the
    construction would not do). A ``[dask]`` key still overrides a value of the file.

    Args:
        path: The file (``~`` expanded); an input file's relative path is already made
            absolute against its folder, any other is relative to the working directory.

    Raises:
        ConfigError: When the file does not exist or is not a YAML mapping.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        msg = (
            f"[dask] slurm_config_file = {_shown(path)}: no such file ({file.absolute()}); fix: "
            "give the path of a dask-jobqueue YAML file (relative to the input file's folder), "
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


def make_jobqueue_cluster(backend: str, table: Mapping[str, Any]) -> Any:
    """The dask-jobqueue cluster of ``backend`` from a ``[dask]`` table (its ``backend`` ignored).

    The table is checked as by `split_dask_table`; with ``backend = "slurm"`` its pyTAMS keys
    are translated (`translate_pytams_keys`) and a ``slurm_config_file`` is merged into
    dask's configuration first (`load_slurm_config_file`). Every other key is passed to the
    cluster class unchanged. No job is submitted until the cluster is scaled;
    ``cluster.job_script()`` shows the batch script the jobs will run.

    Args:
        backend: A key of `JOBQUEUE_BACKENDS`.
        table: The ``[dask]`` table, or the keywords `split_dask_table` made of it.

    Raises:
        ConfigError: For a backend that is not a dask-jobqueue one, a key refused by
            `split_dask_table`, a missing ``slurm_config_file``, or when the cluster class
            rejects a keyword or misses a value (the message names the key and the class).
    """
    if backend not in JOBQUEUE_BACKENDS:
        msg = (
            f"[dask] backend = {_shown(backend)} is not a dask-jobqueue backend; fix: one of "
            + ", ".join(_shown(b) for b in JOBQUEUE_BACKENDS)
        )
        raise ConfigError(msg)
    _, kwargs = split_dask_table({**table, "backend": backend})
    cluster_class = _import_cluster_class(backend)
    config_file = kwargs.pop("slurm_config_file", None) if backend == "slurm" else None
    if config_file is not None:
        load_slurm_config_file(config_file)
    try:
        return cluster_class(**kwargs)
    except (TypeError, ValueError) as exc:
        maker = f"dask-jobqueue's {cluster_class.__name__}"
        fix = _jobqueue_fix(backend, cluster_class)
        raise _refused(exc, kwargs, maker, backend, fix) from exc


def _refused(
    exc: BaseException, keys: Iterable[str], maker: str, backend: str, fix: str
) -> ConfigError:
    """The error for a cluster class that refused the ``[dask]`` keys ``keys``."""
    rejected = _rejected_keys(exc)
    if rejected:
        named = ", ".join(rejected)
        return ConfigError(
            f"[dask] {named}: rejected by {maker} (not a keyword of it; backend = "
            f"{_shown(backend)}); fix: remove {named}, or {fix}"
        )
    return ConfigError(
        f"[dask] {', '.join(keys) or '(no keys)'}: {maker} could not be built from these keys "
        f"(backend = {_shown(backend)}): {_one_line(exc)}; fix: {fix}"
    )


def local_cluster_kwargs(workers: int, table: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords of the `distributed.LocalCluster` of a ``[dask]`` table (backend "local").

    ``workers`` single-threaded worker processes, the dashboard on a free port; the table's
    keys override these. When the program keeps dask's logs off the terminal
    (`pytams.core.logs.configure_logging`), the workers log nothing (``silence_logs``, unless
    the table sets it). Worker processes ignore Ctrl-C (`dask_setup`, as a ``preload``):
    the run's process shuts them down.

    Args:
        workers: The number of workers (``[runner] workers``).
        table: The ``[dask]`` keywords (``backend`` removed, see `split_dask_table`).

    Raises:
        ConfigError: For a key that is neither a keyword of LocalCluster nor of its workers
            (checked before any process starts; the message suggests the closest keyword).
    """
    _check_local_keys(table)
    kwargs: dict[str, Any] = {
        "n_workers": workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
    }
    if third_party_quiet():
        kwargs["silence_logs"] = logging.CRITICAL
    kwargs.update(table)
    if kwargs["processes"]:
        given = kwargs.get("preload") or []
        kwargs["preload"] = [*([given] if isinstance(given, str) else given), __name__]
    return kwargs


def dask_setup(worker: Any) -> None:
    """A worker process's preload hook: it ignores Ctrl-C (its nanny ends it with the run).

    A terminal's Ctrl-C reaches every process of the run; without this, each worker process
    would print its own KeyboardInterrupt traceback.
    """
    del worker
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_local_keys(table: Mapping[str, Any]) -> None:
    """Every ``[dask]`` key is a keyword of LocalCluster, of its workers or their nannies."""
    if "worker_class" in table:
        return  # a worker class of the user's may take keywords of its own
    known = _local_keywords()
    unknown = [key for key in table if key not in known]
    if not unknown:
        return
    named = ", ".join(unknown)
    close = {key: difflib.get_close_matches(key, sorted(known), n=1) for key in unknown}
    hints = [f"{key} -> {match[0]}" for key, match in close.items() if match]
    fix = (
        f"rename {', '.join(hints)}"
        if len(hints) == len(unknown)
        else f"remove {named}, or use LocalCluster's keyword names (memory_limit, processes, ...)"
    )
    msg = (
        f"[dask] {named}: rejected by distributed's LocalCluster (not a keyword of it or of "
        f'its workers; backend = "local"); fix: {fix}'
    )
    raise ConfigError(msg)


def _local_keywords() -> set[str]:
    """The keywords of LocalCluster and of the Nanny, Worker and Server it passes them to."""
    from distributed import LocalCluster, Nanny, Worker
    from distributed.core import Server

    known: set[str] = set()
    for cls in (LocalCluster, Nanny, Worker, Server):
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                known.add(p.name)
    return known


def make_slurm_cluster(table: Mapping[str, Any]) -> Any:
    """A `dask_jobqueue.SLURMCluster` from a ``[dask]`` table: `make_jobqueue_cluster`."""
    return make_jobqueue_cluster("slurm", table)


def _jobqueue_fix(backend: str, cluster_class: Any) -> str:
    """How to write the keywords of ``cluster_class`` (for a message)."""
    names = ", ".join(_keywords(cluster_class))
    pytams = (
        ", a pyTAMS key (slurm_config_file, ntasks_per_job, ntasks_per_node, "
        "ncores_per_worker, job_prologue, worker_walltime)"
        if backend == "slurm"
        else ""
    )
    return (
        f"use {cluster_class.__name__}'s keyword names ({names}, ...){pytams} or a named "
        "profile (config_name) of dask-jobqueue's configuration"
    )


def _keywords(cluster_class: Any) -> list[str]:
    """The keywords of a dask-jobqueue cluster class: its job class's own, then the common."""
    own: list[str] = []
    job_class = getattr(cluster_class, "job_cls", None)
    if job_class is not None:
        skip = {"self", "scheduler", "name", "config_name", "base_class_kwargs"}
        parameters = inspect.signature(job_class.__init__).parameters.values()
        own = [
            p.name
            for p in parameters
            if p.name not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
    return [*own, *(k for k in _COMMON_KEYWORDS if k not in own)]


def _class_name(backend: str) -> str:
    """The cluster class of a dask-jobqueue backend, by name (nothing imported)."""
    return JOBQUEUE_BACKENDS[backend].rpartition(":")[2]


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


def _import_cluster_class(backend: str) -> Any:
    """The dask-jobqueue cluster class of ``backend``, imported without its change to Ctrl-C.

    Importing dask_jobqueue replaces the process's SIGINT handler by ``sys.exit()``, which
    turns Ctrl-C into a silent exit with status 0; the previous handler is put back so Ctrl-C
    stays a KeyboardInterrupt (the run stops, the cluster and its jobs are shut down).

    Raises:
        MissingComponentError: When dask-jobqueue is not installed.
    """
    module_name, _, class_name = JOBQUEUE_BACKENDS[backend].partition(":")
    previous = signal.getsignal(signal.SIGINT)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # pragma: no cover - a dependency of this package
        msg = f"[dask] backend = {_shown(backend)} needs dask-jobqueue: pip install pytams-runners"
        raise MissingComponentError(msg) from exc
    finally:
        changed = signal.getsignal(signal.SIGINT) is not previous
        main = threading.current_thread() is threading.main_thread()
        if changed and previous is not None and main:
            signal.signal(signal.SIGINT, previous)
    return getattr(module, class_name)


class DaskRunner:
    """Runs tasks on a dask cluster (``[runner] type = "dask"``), one cluster for the run.

    A task whose model raises is retried ``[runner] retries`` times, then the run stops with
    `RunnerError` (the model's error as its cause); a framework error is not retried (the rule
    of `pytams.core.retry`). A worker killed mid-task is replaced (by its nanny, or a new batch
    job) and dask reruns its tasks; that is not counted as a retry unless dask itself gives up
    on the task (``KilledWorker``) or loses it. The workers run pytams-runners' code: install it
    where they run.

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
        # the context offered to the workers: (context, its token, its plugin's name, its bytes)
        self._shipped: tuple[RunContext, str, str, bytes] | None = None

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
        """Close the client and the cluster we started (cancelling its batch jobs)."""
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
        if self.backend in JOBQUEUE_BACKENDS:
            self.cluster = make_jobqueue_cluster(self.backend, self.cluster_kwargs)
            self.cluster.adapt(minimum=self.workers, maximum=self.workers)
            _logger.info(
                "%s: %d workers requested; job script:\n%s",
                type(self.cluster).__name__,
                self.workers,
                self.cluster.job_script(),
            )
        else:
            kwargs = local_cluster_kwargs(self.workers, self.cluster_kwargs)
            try:
                self.cluster = LocalCluster(**kwargs)  # type: ignore[no-untyped-call]
            except (TypeError, RuntimeError) as exc:
                # an unknown keyword reaches the workers: a TypeError, or with worker
                # processes "Nanny failed to start" caused by that TypeError
                if not (isinstance(exc, TypeError) or _rejected_keys(exc)):
                    raise
                fix = "use LocalCluster's keyword names (memory_limit, processes, ...)"
                maker = "distributed's LocalCluster"
                raise _refused(exc, self.cluster_kwargs, maker, "local", fix) from exc
        self.client = Client(self.cluster)  # type: ignore[no-untyped-call]

    def _stop(self) -> None:
        client, cluster = self.client, self.cluster
        if client is not None:
            self._withdraw()
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
    def run(
        self, context: RunContext, tasks: Sequence[SegmentTask]
    ) -> Generator[SegmentResult, None, None]:
        """Submit ``tasks``; yield their results as they complete.

        Raises:
            RunnerError: When a task still fails after its retries, fails with an error that
                is not retried (`pytams.core.retry`), or the runner was not entered (``with
                runner:``).
            TAMSError: A framework error met by a task, as it is.
        """
        from distributed import as_completed
        from distributed.protocol.pickle import dumps

        client = self.client
        if client is None:
            msg = "DaskRunner.run needs the runner entered first: with DaskRunner(...) as r"
            raise RunnerError(msg)
        attempts = Attempts(self.retries)
        # a unit is a task, or a batch of a batched model (one per worker); it travels pickled
        # (by dask's pickle: cloudpickle for what plain pickle cannot carry) and is unpickled by
        # the task, so the scheduler never unpickles the model; so does the context, offered to
        # the workers once per run (`_offer`) rather than as a task's argument: a task with a
        # dependency is placed by dask's estimates, which at times queue a phase's tasks behind
        # each other on one worker while others idle
        todo = units(context, tasks, self.workers)
        if not todo:
            return
        packed: list[tuple[tuple[SegmentTask, ...], bytes]] = []
        for unit in todo:
            try:
                if not packed:
                    self._offer(context, dumps)
                packed.append((unit, pack_unit(unit, dumps)))
            except Exception as error:
                attempts.failed(unit[0], error)  # a pickling error is not retried: raises
                raise
        # future -> its unit, the unit's bytes and the context's token it was given
        task_of: dict[Any, tuple[tuple[SegmentTask, ...], bytes, str]] = {}
        resent: dict[Any, int] = {}  # a unit's key -> its sends to a worker without the context

        def submit(batch: Sequence[tuple[tuple[SegmentTask, ...], bytes]]) -> list[Any]:
            """Submit units in one message to the scheduler (a phase's, or one to rerun)."""
            token = self._offer(context, dumps)
            futures = client.map(
                run_offered,
                [token] * len(batch),
                [payload for _, payload in batch],
                pure=False,
                key=[f"pytams-{unit[0].key}-{uuid.uuid4().hex[:12]}" for unit, _ in batch],
            )
            for future, (unit, payload) in zip(futures, batch, strict=True):
                task_of[future] = (unit, payload, token)
            return list(futures)

        # results travel with the completion events (no extra round trip per result)
        completed = as_completed(  # type: ignore[no-untyped-call]
            submit(packed),
            with_results=True,
            raise_errors=False,
        )
        packed.clear()  # each payload is kept (for a retry) only until its task completes
        try:
            for future, outcome in completed:
                unit, payload, token = task_of.pop(future)
                task = unit[0]
                status = future.status
                if status == "finished":
                    future.release()
                    yield from outcome
                    continue
                exc = (
                    future.exception()
                    if status == "error"
                    else WorkerLostError(f"dask lost the task of trajectory {task.key} ({status})")
                )
                future.release()
                missing = isinstance(exc, ContextMissingError)
                if missing and resent.get(task.key, 0) < CONTEXT_RESENDS:
                    resent[task.key] = resent.get(task.key, 0) + 1
                    if self._shipped is not None and self._shipped[1] == token:
                        _logger.info("a worker lacked the run's context: offering it again")
                        self._offer(context, dumps, again=True)
                else:
                    attempts.failed(task, exc)  # returns to retry, or raises
                for rerun in submit([(unit, payload)]):
                    completed.add(rerun)  # type: ignore[no-untyped-call]
        finally:
            if task_of:
                client.cancel(list(task_of))
            task_of.clear()

    def _offer(self, context: RunContext, dumps: Any, *, again: bool = False) -> str:
        """The token of ``context``, offered to every worker, present and future, once.

        Pickled once per context object and registered as a dask worker plugin
        (`pytams.runners._context_plugin.ContextPlugin`): dask gives it to every worker now
        and to every worker that joins or restarts later. The previous context's plugin is
        withdrawn. ``again``: offered anew, under a new token (a worker lacked it).
        """
        shipped = self._shipped
        if shipped is not None and shipped[0] is context:
            if not again:
                return shipped[1]
            blob = shipped[3]
        else:
            blob = pack_context(context, dumps)
        from pytams.runners._context_plugin import ContextPlugin

        self._withdraw()
        token = new_token()
        name = f"pytams-context-{token}"
        self.client.register_plugin(ContextPlugin(token, blob), name=name)
        self._shipped = (context, token, name, blob)
        return token

    def _withdraw(self) -> None:
        """Withdraw the offered context's plugin from the workers (they drop the context)."""
        shipped, self._shipped = self._shipped, None
        if shipped is None:
            return
        try:
            self.client.unregister_worker_plugin(shipped[2])
        except Exception as exc:  # the scheduler is gone, or has no such plugin: nothing left
            _logger.debug("withdrawing the run's context: %s", exc)
