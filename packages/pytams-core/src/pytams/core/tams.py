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
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytams.core.config import Config, load_config, plain
from pytams.core.curve import RunHistory
from pytams.core.database import Database
from pytams.core.errors import ConfigError
from pytams.core.estimator import ancestors, genealogy_interval, wilson_interval
from pytams.core.loading import ModelSpec, load_model_class
from pytams.core.noise import noise_scheme_for, stored_scheme
from pytams.core.occupancy import idle_warning
from pytams.core.opening import move_aside, open_run
from pytams.core.plugins import make_runner, make_store
from pytams.core.result import TAMSResult
from pytams.core.rng import new_seed, selection_generator
from pytams.core.runner import Runner
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, clone_task
from pytams.core.selection import Ranking, select
from pytams.core.stop import StopReason, stop_before_iteration
from pytams.core.store import IterationRecord, Store, StoredTrajectory, TrajectoryFiles
from pytams.core.trajectory import Trajectory, TrajectoryKey
from pytams.core.workspace import ScratchDirectory, run_directory

_logger = logging.getLogger(__name__)


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
        self.model = _model_spec(model, self.config).with_score(self.config)
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
            move_aside(self.config.database.path)
        _warn_idle_workers(self.config, runner)
        with runner, ScratchDirectory() as scratch:
            results = []
            for repeat in range(self.config.tams.repeats):
                store = self._store if self._store is not None else make_store(self.config, repeat)
                run_dir = run_directory(store, scratch, repeat)
                run = _Run(self, runner, Database(store), seed, repeat, run_dir)
                try:  # the run's database is open: a stop is recorded in it
                    one = run.execute()
                except KeyboardInterrupt:
                    _record_stop(run.db, INTERRUPTED)
                    raise
                except Exception as exc:
                    _record_stop(run.db, failed(exc))
                    raise
                store.flush()
                results.append(one)
                if not one.complete:
                    break
        if len(results) == 1 and self.config.tams.repeats == 1:
            return results[0]
        if not results[-1].complete:
            return results[-1]
        return TAMSResult.of_repeats(results, time.perf_counter() - started)


def _warn_idle_workers(config: Config, runner: Runner) -> None:
    """Warn, once per run, when a runner has more workers than an iteration has clones."""
    workers = getattr(runner, "workers", None)  # the serial runner has none
    tams = config.tams
    if not isinstance(workers, int) or tams.sampler != "tams" or tams.max_iterations == 0:
        return
    message = idle_warning(workers, tams.kills_per_iteration, ntrajectories=tams.ntrajectories)
    if message is not None:
        _logger.warning(message)


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
        # what the driver knows of each slot of the ensemble (read once, then kept up to date
        # per clone): its maximum score (sorted) and whether it converged; no states
        self._ranking: Ranking | None = None
        self._converged: list[bool] = []
        self._converged_count = 0
        self._steps: dict[TrajectoryKey, int] = {}  # model steps of what this process stored
        self.seed = self._open(seed, tams.model)
        self.context = RunContext(
            model=tams.model,
            model_params=plain(config.model),
            tables=plain(config.tables),
            trajectory=config.trajectory,
            seed=self.seed,
            repeat=repeat,
            variant=config.tams.variant,
            run_dir=run_dir,
            noise=stored_scheme(self.db.metadata),  # resumed: the scheme the run was made with
            files=worker_files(self.db.store),  # workers store trajectories themselves
        )

    def _open(self, seed: int, model: ModelSpec) -> int:
        """Start a new database or check that the stored run may be resumed; return the seed."""
        wanted = {
            "config": self.config.to_dict(),
            "seed": seed,
            "repeat": self.repeat,
            "model": model.name,
            "noise": noise_scheme_for(model.cls),  # informational: not compared on resume
            **model.score_metadata(),  # [trajectory] score: the learned score's file and hash
        }
        self.db, seed = open_run(self.db, self.config, wanted)
        self.db.record_outcome(None)  # a resumed run is running again
        return seed

    # ------------------------------------------------------------------ the algorithm
    def execute(self) -> TAMSResult:
        if self.db.member_keys is None and not self._initial_ensemble():
            return self._result(StopReason.WALLTIME)
        if self.config.tams.sampler == "montecarlo":
            return self._result(StopReason.MONTECARLO)
        pending = self.db.pending
        if pending is not None and not self._run_clones(pending):
            return self._result(StopReason.WALLTIME)
        settings = self.config.tams
        ranking = self._summary()
        keys = self.db.member_keys
        assert keys is not None
        while True:
            iteration = self.db.iteration_count
            rng = selection_generator(self.seed, self.repeat, iteration)
            selection = select(ranking, self.k, rng)
            reason = stop_before_iteration(
                iterations=iteration,
                all_converged=iteration == 0 and all(self._converged),
                max_iterations=settings.max_iterations,
                kills=0 if settings.max_kills is None else self._kills(),
                max_kills=settings.max_kills,
                out_of_time=self._out_of_time(),
                level=selection.level,
                highest=ranking.highest(),
                target=self.target,
            )
            if reason is StopReason.EXTINCTION:
                return self._result(reason, level=selection.level)
            if reason is not None:
                return self._result(reason)
            record = IterationRecord(
                index=iteration,
                level=selection.level,
                killed=tuple(keys[slot] for slot in selection.killed),
                parents=tuple(keys[slot] for slot in selection.parents),
                weight=self.db.weight * (1.0 - len(selection.killed) / self.n),
            )
            self.db.append_iteration(record)
            if not self._run_clones(record):
                return self._result(StopReason.WALLTIME)

    def _initial_ensemble(self) -> bool:
        """Run the missing initial trajectories; False if the walltime stopped it."""
        tasks = [
            SegmentTask(key=TrajectoryKey(slot))
            for slot in range(self.n)
            if not self.db.has_trajectory(TrajectoryKey(slot))
        ]
        finished = self.n - len(tasks)
        stored = {}
        for result in self._execute(tasks):
            stored[result.task.key.slot] = self._keep(result)
            finished += 1
            self._report("initial", finished, self.n)
        if finished < self.n:
            return False
        self.db.commit_ensemble([TrajectoryKey(s) for s in range(self.n)])
        if len(stored) == self.n:  # all run here: the ranking needs no reading back
            self._rank([stored[slot] for slot in range(self.n)])
        return True

    def _run_clones(self, record: IterationRecord) -> bool:
        """Run the missing clones of ``record`` and commit them; False at the walltime."""
        clones = record.clones
        tasks = [
            self._clone_task(clone, parent, record.level)
            for clone, parent in zip(clones, record.parents, strict=False)
            if not self.db.has_trajectory(clone)
        ]
        stored = {}
        for result in self._execute(tasks):
            stored[result.task.key] = self._keep(result)
        if not all(self.db.has_trajectory(clone) for clone in clones):
            return False
        if self._ranking is not None:
            for clone in clones:  # stored by an earlier, interrupted run if not by this one
                summary = stored.get(clone) or StoredTrajectory.of(self.db.trajectory(clone))
                slot = clone.slot
                self._ranking.update(slot, summary.max_score)
                self._converged_count += summary.converged - self._converged[slot]
                self._converged[slot] = summary.converged
        self.db.commit_clones(clones)
        self._report("iteration", self.db.iteration_count, self.db.iteration_count)
        return True

    def _clone_task(self, key: TrajectoryKey, parent: TrajectoryKey, level: float) -> SegmentTask:
        """The task of a clone: whole, or only its parent and level when workers read it."""
        if self.context.files is not None:
            return SegmentTask(key=key, parent=parent, level=level)
        return clone_task(key, self._member(parent), level)

    def _keep(self, result: SegmentResult) -> StoredTrajectory:
        """Store a finished task's trajectory (unless its worker did) and summarize it."""
        stored = result.stored
        if stored is None:
            parent = result.task.parent
            trajectory = result.attach(None if parent is None else self._member(parent))
            self.db.save_trajectory(trajectory)
            stored = StoredTrajectory.of(trajectory)
        self._steps[stored.key] = stored.model_steps
        return stored

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
            if isinstance(results, Generator):  # a generator cancels its pending tasks
                results.close()

    # ------------------------------------------------------------------ bookkeeping
    def _summary(self) -> Ranking:
        """The ranking of the committed ensemble (read member by member the first time)."""
        if self._ranking is None:  # one member at a time: no states kept
            self._rank([StoredTrajectory.of(self.db.member(slot)) for slot in range(self.n)])
        assert self._ranking is not None
        return self._ranking

    def _rank(self, members: Sequence[StoredTrajectory]) -> None:
        """Start the ranking and the convergence flags from the ensemble's summaries."""
        self._ranking = Ranking([member.max_score for member in members])
        self._converged = [member.converged for member in members]
        self._converged_count = sum(self._converged)

    def _member(self, key: TrajectoryKey) -> Trajectory:
        """The trajectory ``key`` of the ensemble, read from the store."""
        member = self.db.member(key.slot)
        assert member.key == key, (member.key, key)
        return member

    def _model_steps(self, key: TrajectoryKey) -> int:
        """The model steps of a stored trajectory, read only if another process stored it."""
        known = self._steps.get(key)
        if known is not None:
            return known
        read_steps = getattr(self.db.store, "model_steps", None)  # NetCDFStore's
        if callable(read_steps):
            return int(read_steps(key))
        return self.db.trajectory(key).model_steps

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def _kills(self) -> int:
        return sum(len(r.killed) for r in self.db.iterations)

    def _report(self, phase: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        converged = 0
        if self.db.member_keys is not None:
            self._summary()
            converged = self._converged_count
        last = self.db.last_iteration
        self.progress(
            Progress(
                phase=phase,
                repeat=self.repeat,
                done=done,
                total=total,
                iteration=self.db.iteration_count,
                level=float("nan") if last is None else last.level,
                weight=self.db.weight,
                converged=converged,
            )
        )

    def _result(self, reason: StopReason, level: float | None = None) -> TAMSResult:
        iterations = self.db.iterations
        keys = self.db.member_keys or []
        if keys:
            self._summary()
        converged = self._converged_count if keys else 0
        if reason is StopReason.WALLTIME:
            probability = std_error = low = high = float("nan")
        elif reason is StopReason.EXTINCTION:
            probability = std_error = low = high = 0.0
        elif reason is StopReason.MONTECARLO:
            probability, std_error, low, high = wilson_interval(converged, self.n)
        else:
            final = list(zip(keys, self._converged, strict=True))
            eve = ancestors(self.n, iterations)
            probability, std_error, low, high = genealogy_interval(self.db.weight, final, eve)
        steps = sum(map(self._model_steps, self.db.stored_keys()))
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
        result = TAMSResult(
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
        extra = {}
        if reason.complete and self.config.tams.diagnostic_levels:
            extra["diagnostics"] = self._diagnostics(self.config.tams.diagnostic_levels)
        self.db.record_outcome(result.outcome(), **extra)
        return result

    def _diagnostics(self, levels: Sequence[float]) -> dict[str, Any]:
        """The weighted first crossings of ``levels``, as the database's metadata holds them."""
        target = self.target
        usable = [a for a in levels if a <= target]
        if len(usable) < len(levels):
            _logger.warning(
                "diagnostic levels above the target score %g are ignored: %s",
                target,
                [a for a in levels if a > target],
            )
        crossings = RunHistory(self.db).first_crossings(usable)
        return {"levels": [c.to_dict() for c in crossings]}


INTERRUPTED = {"stop_reason": "interrupted", "complete": False}


def failed(exc: BaseException) -> dict[str, Any]:
    """The outcome of a run stopped by an error (resumable once its cause is fixed)."""
    return {"stop_reason": "failed", "complete": False, "error": f"{type(exc).__name__}: {exc}"}


def _record_stop(database: Database, outcome: dict[str, Any]) -> None:
    """Store why the run stopped early, best effort (the exception goes on regardless)."""
    try:
        database.record_outcome(outcome)
        database.store.flush()
    except Exception:  # never mask the stop; every write is atomic
        _logger.warning("could not record the stop in the database", exc_info=True)


def worker_files(store: Store) -> TrajectoryFiles | None:
    """How workers reach the store's trajectories, if it offers it (`pytams.core.store`)."""
    offer = getattr(store, "worker_files", None)
    return offer() if callable(offer) else None
