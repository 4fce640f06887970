"""Trajectory tasks: advance one trajectory segment, the unit of work a runner executes.

`run_segment` is the one place where models are stepped. A task carries only what it needs:
the run context (model, settings, seed) and, for a clone, the parent's last stored state
before the branching point and the noise to replay from there; or, when the workers reach the
database themselves (`RunContext.files`), only the parent's key and the iteration's level
(`clone_task` then runs in the worker).
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.compat import model_factory
from pytams.core.config import TrajectorySettings
from pytams.core.ending import Ending
from pytams.core.errors import ModelError
from pytams.core.loading import ModelSpec
from pytams.core.model import ForwardModel
from pytams.core.noise import CounterStream, declared_shape
from pytams.core.rng import COUNTER, GENERATOR, segment_generator, segment_model_id
from pytams.core.snapshot import Snapshot
from pytams.core.store import StoredTrajectory, TrajectoryFiles
from pytams.core.trajectory import Trajectory, TrajectoryKey, join
from pytams.core.workspace import WORKDIR_DIR, workdir_name


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """What every task of one run (one repeat) shares.

    ``run_dir`` is the database directory (absolute), or the temporary directory standing for
    it in an in-memory run: each segment's model works in ``run_dir/trajectories/<name>``.
    ``files`` is how workers read and write the database's trajectories themselves (a store's
    ``worker_files()``), None when the trajectories travel through the driver (`run_unit`).
    """

    model: ModelSpec
    model_params: Mapping[str, Any]
    tables: Mapping[str, Any]
    trajectory: TrajectorySettings
    seed: int
    repeat: int = 0
    variant: str = "tams"
    run_dir: Path | None = None
    noise: str = GENERATOR
    files: TrajectoryFiles | None = None

    def noise_stream(self, key: TrajectoryKey, model: ForwardModel[Any, Any]) -> Callable[[], Any]:
        """The fresh noise of the segment ``key``: each call returns the next step's noise.

        Scheme ``generator``: the model's `_make_noise` on the segment's own generator. Scheme
        ``counter`` (`pytams.core.noise`): standard normals of the model's ``noise_shape``, a
        pure function of the step; the first is that of step ``model.step + 1``.

        Raises:
            ModelError: Under the counter scheme, when the model declares no ``noise_shape``.
        """
        if self.noise == COUNTER:
            shape = declared_shape(model)
            return CounterStream(
                self.seed, self.repeat, key.slot, key.generation, model.step, shape
            )
        return model._noise_stream(
            partial(segment_generator, self.seed, self.repeat, key.slot, key.generation)
        )

    def workdir(self, key: TrajectoryKey) -> Path | None:
        """The working directory of the segment ``key`` (None without a run directory)."""
        if self.run_dir is None:
            return None
        return self.run_dir / WORKDIR_DIR / workdir_name(key)

    def build_model(self, key: TrajectoryKey) -> ForwardModel[Any, Any]:
        """A fresh model instance for the segment ``key``."""
        build = model_factory(
            self.model.cls,
            self.model_params,
            self.tables,
            store_state_every=self.trajectory.store_state_every,
        )
        model_id = partial(segment_model_id, self.seed, self.repeat, key.slot, key.generation)
        return build(model_id, partial(self.workdir, key))


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentTask:
    """Advance the trajectory ``key`` to the horizon or convergence.

    Attributes:
        key: The new trajectory's key (its noise stream derives from it).
        parent: For a clone, the parent's key; None for an initial trajectory.
        branch_index: Index of the parent's snapshot the clone continues from.
        start_index: Index of ``start``, the last snapshot at or before ``branch_index``
            that holds a state.
        start: That snapshot.
        replay: The noise of the steps from ``start_index`` to ``branch_index``.
        branch_score: The parent's score at ``branch_index`` (checks the replay).
        level: For a clone whose worker reads the parent itself (`RunContext.files`): the
            iteration's level; the four fields above are then filled in the worker.
    """

    key: TrajectoryKey
    parent: TrajectoryKey | None = None
    branch_index: int = 0
    start_index: int = 0
    start: Snapshot[Any, Any] | None = None
    replay: tuple[Any, ...] = ()
    branch_score: float | None = None
    level: float | None = None

    @property
    def resolved(self) -> bool:
        """Whether the task holds what `run_segment` needs (a clone: its starting state)."""
        return self.parent is None or self.start is not None


def clone_task(key: TrajectoryKey, parent: Trajectory, level: float) -> SegmentTask:
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
        level=level,
    )


@dataclass(slots=True, kw_only=True)
class SegmentResult:
    """The snapshots a task produced (after the branching point for a clone).

    Columns are lists (scalar path) or arrays with a leading snapshot axis (batched path).
    When the worker stored the whole trajectory itself (`RunContext.files`), the columns are
    empty and ``stored`` summarizes it.
    """

    task: SegmentTask
    times: Any = field(default_factory=list)
    scores: Any = field(default_factory=list)
    noises: Any = field(default_factory=list)
    states: Any = field(default_factory=list)
    converged: bool = False
    model_steps: int = 0
    stored: StoredTrajectory | None = None

    def attach(self, parent: Trajectory | None) -> Trajectory:
        """The whole trajectory: the parent's prefix (for a clone) followed by this segment."""
        task = self.task
        if parent is None:
            trajectory = Trajectory(key=task.key)
        else:
            trajectory = parent.clone_prefix(task.key, task.branch_index)
        trajectory.times = join(trajectory.times, self.times)
        trajectory.scores = join(trajectory.scores, self.scores)
        trajectory.noises = join(trajectory.noises, self.noises)
        trajectory.states = join(trajectory.states, self.states)
        trajectory.converged = self.converged
        trajectory.model_steps = self.model_steps
        return trajectory


def run_segment(context: RunContext, task: SegmentTask) -> SegmentResult:
    """Run one task: build the model, restore and replay for a clone, advance to the end.

    Raises:
        ModelError: Naming the trajectory, the step and the model's original error.
    """
    if not task.resolved:
        msg = (
            f"the clone {task.key} carries no starting state: run it through "
            "pytams.core.run_unit, which reads its parent from the database"
        )
        raise ValueError(msg)
    settings = context.trajectory
    result = SegmentResult(task=task)
    try:
        model = context.build_model(task.key)
    except Exception as exc:
        raise _model_error(context, task, "while building the model", exc) from exc
    try:
        if task.start is None:
            _record(model, result, None, settings.store_state_every)
        else:
            model.restore(task.start.state, time=task.start.time, step=task.start_index)
            replay(model, task, settings, context.variant)
        next_noise = context.noise_stream(task.key, model)
        result.converged = _advance_to_end(model, next_noise, settings, result, context.variant)
        result.model_steps = model.step - task.start_index
    except ModelError:
        raise
    except Exception as exc:
        where = f"at step {model.step + 1} (t = {model.time:.6g})"
        raise _model_error(context, task, where, exc) from exc
    finally:
        model.close()
    return result


def replay(
    model: ForwardModel[Any, Any], task: SegmentTask, settings: TrajectorySettings, variant: str
) -> None:
    """Re-run the parent's steps from its stored state to the branching point."""
    ending = Ending.of(settings, variant)
    for noise in task.replay:
        model.advance(ending.step(model.time), noise)
    if task.replay and task.branch_score is not None:
        score = model.score()
        if score != task.branch_score:
            msg = (
                f"replaying {task.parent} from its stored state at step {task.start_index} to "
                f"the branching step {task.branch_index} gave the score {score!r}, not the "
                f"stored {task.branch_score!r}: the model's step depends on something its "
                "state does not hold. Fix: make the state hold every variable a step uses "
                "(_get_state/_set_state; pyTAMS models: get_current_state/set_current_state), "
                "or keep every state ([trajectory] store_state_every = 1, pyTAMS: sparse_freq "
                "= 1) so that branches start from a stored state with nothing to replay"
            )
            raise ModelError(msg)


def _advance_to_end(
    model: ForwardModel[Any, Any],
    next_noise: Callable[[], Any],
    settings: TrajectorySettings,
    result: SegmentResult,
    variant: str = "tams",
) -> bool:
    """The advance loop: fresh noise, one step at a time, until the trajectory ends.

    It ends at convergence, at the horizon (variants tams and hybrid) or when the score falls
    to ``min_score`` (variants ams and hybrid).

    The hot path of the framework: it calls the model's hooks directly (with the checks of
    the public methods and of `Ending` inlined), calls `_is_converged` only when the model
    overrides it, and appends to the result's columns through local names.
    """
    target, every = settings.target_score, settings.store_state_every
    ending = Ending.of(settings, variant)
    horizon, dt_max, lower = ending.horizon, ending.step_size, ending.lower
    advance, get_score, get_state = model._advance, model._score, model._get_state
    own_convergence = type(model)._is_converged is not ForwardModel._is_converged
    is_converged = model.is_converged
    times, scores, noises, states = result.times, result.scores, result.noises, result.states
    isfinite, ndarray = math.isfinite, np.ndarray
    tolerance = ending.tolerance
    score = scores[-1] if scores else model.score()
    converged = model.is_converged(score, target)
    time, step = model.time, model.step
    keep_all = every == 1
    while not converged and horizon - time > tolerance and score > lower:
        left = horizon - time
        dt = dt_max if left > dt_max else left
        noise = next_noise()
        taken = advance(dt, noise)
        if not 0.0 < taken <= dt * (1.0 + 1e-12):
            model.restore(get_state(), time=time, step=step)  # keep the error's step right
            model.advance(dt, noise)  # raises the public method's error
        time += taken
        step += 1
        model._time = time  # set_clock, inlined
        model._step = step
        score = float(get_score())
        if not isfinite(score):
            model.score()  # raises the public method's error
        times.append(time)
        scores.append(score)
        noises.append(noise)
        if keep_all or not step % every:
            state = get_state()
            states.append(state.copy() if isinstance(state, ndarray) else state)
        else:
            states.append(None)
        converged = is_converged(score, target) if own_convergence else score >= target
    return converged


def _record(model: ForwardModel[Any, Any], result: SegmentResult, noise: Any, every: int) -> float:
    """Append the model's current snapshot to the result; return its score."""
    score = model.score()
    result.times.append(model.time)
    result.scores.append(score)
    result.noises.append(noise)
    result.states.append(model.state if model.step % every == 0 else None)
    return score


def _model_error(
    context: RunContext, task: SegmentTask, where: str, exc: BaseException
) -> ModelError:
    origin = "" if task.parent is None else f" (a clone of {task.parent})"
    failed = f"model {context.model.name} failed in trajectory {task.key}{origin} {where}"
    return model_failure(failed, exc, context.model.cls)


def model_failure(failed: str, exc: BaseException, cls: type[Any]) -> ModelError:
    """The `ModelError` for ``exc`` raised by a model of class ``cls``: where and its traceback.

    Args:
        failed: What failed (the model, the trajectory and the step).
        exc: The model's exception.
        cls: The model's class (its file locates the frame to name).
    """
    error = ModelError(f"{failed}: {type(exc).__name__}: {exc}{raised_at(exc, cls)}")
    error.model_traceback = "".join(traceback.format_exception(exc))
    return error


def raised_at(exc: BaseException, cls: type[Any]) -> str:
    """`` (raised at file.py:42 in _advance)``: the last frame in the model's file, else the last.

    Empty when the exception carries no traceback.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    module = sys.modules.get(cls.__module__)
    source = getattr(module, "__file__", None)
    mine = [f for f in frames if source is not None and Path(f.filename) == Path(source)]
    frame = (mine or frames)[-1]
    return f" (raised at {Path(frame.filename).name}:{frame.lineno} in {frame.name})"
