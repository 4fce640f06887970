"""The TAMS algorithm (trajectory-adaptive multilevel splitting), exactly as the design states.

1. Run N trajectories on [0, T]; Q_i = max score of trajectory i. All converged: p = 1.
2. Iteration j: z_j = k-th smallest Q_i. Kill every trajectory with Q_i <= z_j (ties included);
   l_j killed. No survivor: extinction, p = 0.
3. Each killed trajectory is replaced by a clone of a parent drawn uniformly among the
   survivors, copied up to its first snapshot with score > z_j, continued with fresh noise.
4. W_{j+1} = W_j (1 - l_j / N) in float64.
5. Stop when z_j reaches the target score, at max iterations or at the walltime.
6. p_hat = W_J * (converged trajectories in the final ensemble) / N.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pytams.core.config import SECTIONS, Config, load_config
from pytams.core.curve import RunHistory
from pytams.core.database import Database
from pytams.core.errors import ConfigError, MissingComponentError, StorageError
from pytams.core.estimator import ancestors, genealogy_interval, wilson_interval
from pytams.core.loading import ModelSpec, load_model_class
from pytams.core.result import TAMSResult
from pytams.core.rng import new_seed, selection_generator
from pytams.core.runner import Runner, make_runner
from pytams.core.segment import RunContext, SegmentTask
from pytams.core.store import IterationRecord, MemoryStore, Store
from pytams.core.trajectory import Trajectory, TrajectoryKey

_logger = logging.getLogger(__name__)

# keys that may change when a run resumes; every other key must match the stored run
RESUMABLE_CHANGES = {
    ("tams", "max_iterations"),
    ("tams", "walltime"),
    ("tams", "max_kills"),
    ("tams", "loglevel"),
    ("tams", "diagnostic_levels"),
    ("tams", "logfile"),
    ("tams", "init_ensemble_only"),
    ("runner", "type"),
    ("runner", "workers"),
    ("runner", "retries"),
    ("database", "resume"),
    ("database", "overwrite"),
    ("database", "restart"),
    ("database", "path"),
}
# tables that may change as a whole: [dask] only says where the tasks run (like [runner])
RESUMABLE_SECTIONS = {"dask"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """A progress report, sent after every finished task and every iteration."""

    phase: str  # "initial" or "iteration"
    repeat: int
    done: int
    total: int
    iteration: int
    level: float
    weight: float
    converged: int


ProgressCallback = Callable[[Progress], None]


def make_store(config: Config, repeat: int) -> Store:
    """The store named by ``[database] path``: memory when absent, else pytams-io's netCDF store.

    Raises:
        MissingComponentError: When a path is given and pytams-io is not installed.
    """
    if config.database.path is None:
        return MemoryStore()
    found = entry_points(group="pytams.stores", name="netcdf")
    if not found:
        msg = (
            "[database] path needs the netCDF store of pytams-io: pip install pytams-io "
            "(or remove [database] path to keep the run in memory)"
        )
        raise MissingComponentError(msg)
    store_class = next(iter(found)).load()
    path = Path(config.database.path)
    if config.tams.repeats > 1:
        path = path / f"repeat-{repeat:04d}"
    store: Store = store_class(path)
    return store


class TAMS:
    """A TAMS run: ``TAMS(ModelClass, "input.toml").run()``.

    Args:
        model: The model class, a ``"module:Class"`` / ``"file.py:Class"`` reference, or None
            to use the configuration's top-level ``model`` key.
        config: A `Config`, a path to a TOML file, or a mapping of tables.
        runner: A runner to use instead of the one ``[runner]`` names.
        store: A store to use instead of the one ``[database]`` names (one repeat only).
        progress: Called with a `Progress` after every task and iteration.
    """

    def __init__(
        self,
        model: type[Any] | str | None,
        config: Config | str | Path | Mapping[str, Any],
        *,
        runner: Runner | None = None,
        store: Store | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.config = config if isinstance(config, Config) else load_config(config)
        self.model = _model_spec(model, self.config)
        if store is not None and self.config.tams.repeats > 1:
            msg = "TAMS(store=...) holds one run; with [tams] repeats > 1 give no store"
            raise ConfigError(msg)
        self._runner = runner
        self._store = store
        self._progress = progress

    def run(self) -> TAMSResult:
        """Run (or resume) the K repeats and return the result."""
        started = time.perf_counter()
        seed = self.config.tams.seed if self.config.tams.seed is not None else new_seed()
        runner = self._runner if self._runner is not None else make_runner(self.config)
        if self.config.database.restart and self._store is None:
            _move_aside(self.config.database.path)
        with runner, _ScratchDirectory() as scratch:
            results = []
            for repeat in range(self.config.tams.repeats):
                store = self._store if self._store is not None else make_store(self.config, repeat)
                run_dir = _run_directory(store, scratch, repeat)
                one = _Run(self, runner, Database(store), seed, repeat, run_dir).execute()
                flush = getattr(store, "flush", None)  # a store that writes in the background
                if flush is not None:
                    flush()
                results.append(one)
                if not one.complete:
                    break
        if len(results) == 1 and self.config.tams.repeats == 1:
            return results[0]
        if not results[-1].complete:
            return results[-1]
        return TAMSResult.of_repeats(results, time.perf_counter() - started)


def _model_spec(model: type[Any] | str | None, config: Config) -> ModelSpec:
    if model is None:
        if config.model_ref is None:
            msg = (
                f"{config.source}: no model given; name it at the top of the file "
                '(model = "package.module:Class") or pass it to TAMS / --model'
            )
            raise ConfigError(msg)
        model = config.model_ref
    if isinstance(model, str):
        return ModelSpec(load_model_class(model), model)
    return ModelSpec(model, None)


class _Run:
    """One repeat: the algorithm over a database, resumable at any point."""

    def __init__(
        self,
        tams: TAMS,
        runner: Runner,
        database: Database,
        seed: int,
        repeat: int,
        run_dir: Path,
    ) -> None:
        config = tams.config
        self.config = config
        self.n = config.tams.ntrajectories
        self.k = config.tams.kills_per_iteration
        self.target = config.trajectory.target_score
        self.runner = runner
        self.db = database
        self.repeat = repeat
        self.progress = tams._progress
        self.started = time.perf_counter()
        self.deadline = (
            None if config.tams.walltime is None else self.started + config.tams.walltime
        )
        self._maxima: dict[TrajectoryKey, float] = {}
        self.seed = self._open(seed, tams.model)
        self.context = RunContext(
            model=tams.model,
            model_params=_plain(config.model),
            tables=_plain(config.tables),
            trajectory=config.trajectory,
            seed=self.seed,
            repeat=repeat,
            variant=config.tams.variant,
            run_dir=run_dir,
        )

    def _open(self, seed: int, model: ModelSpec) -> int:
        """Start a new database or check that the stored run may be resumed; return the seed."""
        metadata = self.db.metadata
        wanted = {
            "config": self.config.to_dict(),
            "seed": seed,
            "repeat": self.repeat,
            "model": model.name,
        }
        if metadata is None:
            self.db.start(wanted)
            return seed
        located = getattr(self.db.store, "path", None) or self.config.database.path
        where = located or "(in memory)"
        resume = self.config.database.resume
        if self.config.pytams_input and not resume and not self.config.database.overwrite:
            _logger.warning(
                "resuming the run in the database %s (a pyTAMS input file: pyTAMS loads an "
                "existing database; [database] restart = true starts afresh)",
                where,
            )
            resume = True
        if not resume:
            if not self.config.database.overwrite:
                msg = (
                    f"the database {where} already holds "
                    "a run: resume it (--resume, [database] resume = true) or replace it "
                    "(--overwrite, [database] overwrite = true)"
                )
                raise StorageError(msg)
            self.db.store.clear()
            self.db = Database(self.db.store)
            self.db.start(wanted)
            return seed
        try:
            _check_resumable(metadata, wanted, self.config.tams.seed is not None)
        except (ConfigError, StorageError) as exc:
            if located is None:
                raise
            raise type(exc)(f"{located}: {exc}") from None  # name the database
        return int(metadata["seed"])

    # ------------------------------------------------------------------ the algorithm
    def execute(self) -> TAMSResult:
        if self.db.ensemble is None and not self._initial_ensemble():
            return self._result("walltime")
        if self.config.tams.sampler == "montecarlo":
            return self._result("montecarlo")
        ensemble = self.db.ensemble
        assert ensemble is not None
        if not self.db.iterations and all(t.converged for t in ensemble):
            return self._result("all_converged")
        pending = self.db.pending
        if pending is not None and not self._run_clones(pending):
            return self._result("walltime")
        while True:
            ensemble = self.db.ensemble
            assert ensemble is not None
            iteration = len(self.db.iterations)
            cap = self.config.tams.max_iterations
            if cap is not None and iteration >= cap:
                return self._result("max_iterations")
            max_kills = self.config.tams.max_kills
            if max_kills is not None and self._kills() >= max_kills:
                return self._result("max_kills")
            if self._out_of_time():
                return self._result("walltime")
            maxima = [self._max_score(t) for t in ensemble]
            level = sorted(maxima)[self.k - 1]
            if level >= self.target:
                return self._result("target_reached")
            killed = [slot for slot, q in enumerate(maxima) if q <= level]
            survivors = [slot for slot, q in enumerate(maxima) if q > level]
            if not survivors:
                return self._result("extinction", level=level)
            rng = selection_generator(self.seed, self.repeat, iteration)
            parents = [survivors[int(rng.integers(len(survivors)))] for _ in killed]
            record = IterationRecord(
                index=iteration,
                level=level,
                killed=tuple(ensemble[slot].key for slot in killed),
                parents=tuple(ensemble[slot].key for slot in parents),
                weight=self.db.weight * (1.0 - len(killed) / self.n),
            )
            self.db.append_iteration(record)
            if not self._run_clones(record):
                return self._result("walltime")

    def _initial_ensemble(self) -> bool:
        """Run the missing initial trajectories; False if the walltime stopped it."""
        tasks = [
            SegmentTask(key=TrajectoryKey(slot))
            for slot in range(self.n)
            if not self.db.has_trajectory(TrajectoryKey(slot))
        ]
        finished = self.n - len(tasks)
        for result in self._execute(tasks):
            self.db.save_trajectory(result.attach(None))
            finished += 1
            self._report("initial", finished, self.n)
        if finished < self.n:
            return False
        self.db.commit_ensemble([self.db.trajectory(TrajectoryKey(s)) for s in range(self.n)])
        return True

    def _run_clones(self, record: IterationRecord) -> bool:
        """Run the missing clones of ``record`` and commit them; False at the walltime."""
        ensemble = self.db.ensemble
        assert ensemble is not None
        by_key = {t.key: t for t in ensemble}
        tasks = [
            _clone_task(clone, by_key[parent], record.level)
            for clone, parent in zip(record.clones, record.parents, strict=False)
            if not self.db.has_trajectory(clone)
        ]
        for result in self._execute(tasks):
            parent = result.task.parent
            assert parent is not None
            self.db.save_trajectory(result.attach(by_key[parent]))
        if not all(self.db.has_trajectory(clone) for clone in record.clones):
            return False
        replaced = dict(zip([k.slot for k in record.killed], record.clones, strict=False))
        new = [
            self.db.trajectory(replaced[t.key.slot]) if t.key.slot in replaced else t
            for t in ensemble
        ]
        self.db.commit_ensemble(new)
        self._report("iteration", len(self.db.iterations), len(self.db.iterations))
        return True

    def _execute(self, tasks: Sequence[SegmentTask]) -> Any:
        """Yield task results until done or out of time (closing the runner's iterator)."""
        if not tasks:
            return
        results = self.runner.run(self.context, tasks)
        try:
            for result in results:
                yield result
                if self._out_of_time():
                    return
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()

    # ------------------------------------------------------------------ bookkeeping
    def _max_score(self, trajectory: Trajectory) -> float:
        """Q of a trajectory of the ensemble (cached: the ensemble changes a few at a time)."""
        key = trajectory.key
        if key not in self._maxima:
            self._maxima[key] = trajectory.max_score
        return self._maxima[key]

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def _kills(self) -> int:
        return sum(len(r.killed) for r in self.db.iterations)

    def _report(self, phase: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        ensemble = self.db.ensemble or []
        iterations = self.db.iterations
        self.progress(
            Progress(
                phase=phase,
                repeat=self.repeat,
                done=done,
                total=total,
                iteration=len(iterations),
                level=iterations[-1].level if iterations else float("nan"),
                weight=self.db.weight,
                converged=sum(t.converged for t in ensemble),
            )
        )

    def _result(self, reason: str, level: float | None = None) -> TAMSResult:
        iterations = self.db.iterations
        ensemble = self.db.ensemble or []
        converged = sum(t.converged for t in ensemble)
        if reason == "walltime":
            probability = std_error = low = high = float("nan")
        elif reason == "extinction":
            probability = std_error = low = high = 0.0
        elif reason == "montecarlo":
            probability, std_error, low, high = wilson_interval(converged, self.n)
        else:
            final = [(t.key, t.converged) for t in ensemble]
            eve = ancestors(self.n, iterations)
            probability, std_error, low, high = genealogy_interval(self.db.weight, final, eve)
        steps = sum(self.db.trajectory(k).model_steps for k in self.db.stored_keys())
        levels = tuple(r.level for r in iterations)
        if level is not None:
            levels += (level,)
        _logger.info(
            "repeat %d stopped (%s): p = %g after %d iterations",
            self.repeat,
            reason,
            probability,
            len(iterations),
        )
        if reason != "walltime" and self.config.tams.diagnostic_levels:
            self._record_diagnostics(self.config.tams.diagnostic_levels)
        return TAMSResult(
            database=self.db,
            probability=probability,
            std_error=std_error,
            ci_low=low,
            ci_high=high,
            iterations=len(iterations),
            kills=self._kills(),
            levels=levels,
            weights=tuple(r.weight for r in iterations),
            converged=converged,
            ntrajectories=self.n,
            model_steps=steps,
            wall_time=time.perf_counter() - self.started,
            stop_reason=reason,
            seed=self.seed,
        )

    def _record_diagnostics(self, levels: Sequence[float]) -> None:
        """Store the weighted first crossings of ``levels`` in the database's metadata."""
        target = self.target
        usable = [a for a in levels if a <= target]
        if len(usable) < len(levels):
            _logger.warning(
                "diagnostic levels above the target score %g are ignored: %s",
                target,
                [a for a in levels if a > target],
            )
        crossings = RunHistory(self.db).first_crossings(usable)
        metadata = self.db.metadata or {}
        metadata["diagnostics"] = {"levels": [c.to_dict() for c in crossings]}
        self.db.store.write_metadata(metadata)


class _ScratchDirectory:
    """A temporary directory made on first use and removed at exit (in-memory runs' workdirs)."""

    def __init__(self) -> None:
        self._path: Path | None = None

    def __enter__(self) -> _ScratchDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None

    @property
    def path(self) -> Path:
        """The directory (created now if it does not exist yet)."""
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="pytams-run-"))
        return self._path


def _run_directory(store: Store, scratch: _ScratchDirectory, repeat: int) -> Path:
    """Where a repeat's segments work: its database directory, or a temporary one."""
    location = getattr(store, "path", None)
    if location is not None:
        return Path(location).absolute()
    return scratch.path / f"repeat-{repeat:04d}"


def _move_aside(path: str | None) -> None:
    """``[database] restart``: rename an existing database to ``path_NNNNNN`` (as pyTAMS)."""
    if path is None or not Path(path).exists():
        return
    source = Path(path)
    number = 1
    while (target := source.with_name(f"{source.name}_{number:06d}")).exists():
        number += 1
    source.rename(target)
    _logger.warning("[database] restart: moved the existing database %s to %s", source, target)


def _plain(value: Any) -> Any:
    """Plain (picklable) dictionaries from read-only mappings."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _clone_task(key: TrajectoryKey, parent: Trajectory, level: float) -> SegmentTask:
    """The task of the clone ``key`` of ``parent`` at ``level``."""
    branch = parent.first_above(level)
    start = parent.last_stored_state(branch)
    return SegmentTask(
        key=key,
        parent=parent.key,
        branch_index=branch,
        start_index=start,
        start=parent.snapshot(start),
        replay=tuple(parent.noises[start + 1 : branch + 1]),
        branch_score=parent.scores[branch],
    )


def _check_resumable(
    stored: Mapping[str, Any], wanted: Mapping[str, Any], seed_given: bool
) -> None:
    """Refuse to resume with a change that would change the result."""
    if stored.get("model") != wanted["model"]:
        msg = (
            f"cannot resume: the database holds a run of model {stored.get('model')!r}, not "
            f"{wanted['model']!r}; resume with the same model or start a new database"
        )
        raise StorageError(msg)
    if seed_given and stored.get("seed") != wanted["seed"]:
        msg = (
            f"cannot resume: the database's seed is {stored.get('seed')}, not "
            f"{wanted['seed']}; drop --seed / [tams] seed to resume with the stored one"
        )
        raise ConfigError(msg)
    old, new = stored.get("config", {}), wanted["config"]
    for section in sorted(set(old) | set(new)):
        old_table, new_table = old.get(section, {}), new.get(section, {})
        if section in RESUMABLE_SECTIONS:
            continue
        if not isinstance(old_table, dict) or not isinstance(new_table, dict):
            continue
        for key in sorted(set(old_table) | set(new_table)):
            if (section, key) in RESUMABLE_CHANGES or (section, key) == ("tams", "seed"):
                continue
            if key not in old_table and _is_default(section, key, new_table[key]):
                continue  # a key added after the stored run was made, at its default
            if old_table.get(key) != new_table.get(key):
                msg = (
                    f"cannot resume: [{section}] {key} was {old_table.get(key)!r} in the "
                    f"stored run and is {new_table.get(key)!r} now, which would change the "
                    "result; restore it (only max_iterations, walltime and the runner may "
                    "change) or start a new database"
                )
                raise ConfigError(msg)


def _is_default(section: str, key: str, value: Any) -> bool:
    """Whether ``value`` is the default of ``[section] key``."""
    settings = SECTIONS.get(section)
    if settings is None:
        return False
    for fld in fields(settings):
        if fld.name == key:
            return fld.default is not MISSING and fld.default == value
    return False
