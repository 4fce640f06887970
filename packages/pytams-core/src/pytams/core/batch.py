"""Batched models: many trajectories per model call, for cheap models.

A `BatchedModel` advances a whole batch of states (leading batch axis) in one call. The engine
runs the initial ensemble, and each iteration's clones, as one batch; trajectories that end
are masked out. The scalar interface keeps working (it is the batch hooks with a batch of one),
and both paths give the same result, bit for bit, for the same seed:

- the noise of every trajectory segment is the same on both paths. Under the ``counter``
  scheme (a model that declares ``noise_shape``: standard normals of that shape) it is a pure
  function of (seed, repeat, slot, generation, step, component) (`pytams.core.noise`): the
  batched path computes a block of `NOISE_BLOCK` steps for all active rows in one vectorised
  Philox call. Under the ``generator`` scheme (every other batched model, and runs recorded
  before the counter scheme) each segment draws from its own generator (seed, trajectory,
  generation), in blocks of `NOISE_BLOCK` steps (`_noise_block` must equal as many
  `_make_noise` calls: numpy's Generator fills blocks sequentially);
- the scalar hooks call the batch hooks on a batch of one, so each row goes through the same
  floating-point operations.

The batched path keeps the states of the same steps as the scalar path (``[trajectory]
store_state_every``: every k-th step from step 0; then the state column is a list with None where
no state is kept) and stores NaN as the noise of a trajectory's first snapshot.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from pytams.core.config import TrajectorySettings
from pytams.core.ending import Ending
from pytams.core.errors import ModelError
from pytams.core.model import ForwardModel
from pytams.core.noise import counter_normals, declared_shape, noise_key
from pytams.core.rng import COUNTER, segment_generator
from pytams.core.segment import (
    RunContext,
    SegmentResult,
    SegmentTask,
    clone_task,
    model_failure,
    replay,
    run_segment,
)
from pytams.core.store import StoredTrajectory, TrajectoryFiles
from pytams.core.trajectory import Trajectory

NOISE_BLOCK = 64


class BatchedModel(ForwardModel[np.ndarray, np.ndarray]):
    """A model that also advances a batch of trajectories at once (a capability).

    Implement `_setup` (set the initial state, an array, as ``self.x``), `_advance_batch` and
    `_score_batch`; optionally `_converged_batch`. Declare the noise as standard normals of a
    fixed shape with the class attribute ``noise_shape`` (e.g. ``(1,)``): new runs then use the
    ``counter`` noise scheme (`pytams.core.noise`, vectorised over the batch). Without it,
    implement `_make_noise` (and optionally `_noise_block`): one generator per segment.
    The scalar hooks are derived from the batch hooks. The batch hooks must not depend on the
    instance's ``model_id`` (one instance serves the whole batch) and must take exactly the
    requested time step. `_advance_batch` returns a new array (it must not modify its input:
    the engine keeps every step's states). For bitwise agreement between batch sizes, use
    element-wise operations; write a reduction over the state's coordinates as a sum, one
    coordinate at a time (a matrix product's summation order can change with the batch size).
    """

    x: np.ndarray
    #: the shape of one step's noise when it is standard normals (opts in to the counter scheme)
    noise_shape: ClassVar[tuple[int, ...] | None] = None

    @abstractmethod
    def _advance_batch(
        self,
        states: np.ndarray,
        times: np.ndarray | float,
        dt: np.ndarray | float,
        noise: np.ndarray,
    ) -> np.ndarray:
        """Return the states (B, ...) advanced by dt with noise (B, ...); times and dt broadcast."""

    @abstractmethod
    def _score_batch(self, states: np.ndarray, times: np.ndarray | float) -> np.ndarray:
        """Return the scores (B,) of the states (B, ...) at the times."""

    def _converged_batch(self, scores: np.ndarray, target: float) -> np.ndarray:
        """Return the convergence mask (B,) (default: score >= target)."""
        return scores >= target

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        """One step's noise under the generator scheme: ``rng.standard_normal(noise_shape)``."""
        if self.noise_shape is None:
            msg = f"{type(self).__name__} must declare noise_shape or implement _make_noise"
            raise NotImplementedError(msg)
        return rng.standard_normal(self.noise_shape)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        """Noise of ``steps`` steps (steps, ...): exactly ``steps`` successive `_make_noise` draws.

        Override with one vectorised draw when it gives the same numbers (e.g.
        ``rng.standard_normal((steps, d))`` for ``rng.standard_normal(d)``, the default for a
        model that declares ``noise_shape`` and keeps the default `_make_noise`).
        """
        if self.noise_shape is not None and type(self)._make_noise is BatchedModel._make_noise:
            return rng.standard_normal((steps, *self.noise_shape))
        return np.stack([np.asarray(self._make_noise(rng)) for _ in range(steps)])

    # the scalar hooks, as a batch of one
    def _advance(self, dt: float, noise: np.ndarray) -> float:
        self.x = self._advance_batch(self.x[None], self.time, dt, np.asarray(noise)[None])[0]
        return dt

    def _get_state(self) -> np.ndarray:
        return self.x

    def _set_state(self, state: np.ndarray) -> None:
        self.x = np.array(state, copy=True)

    def _score(self) -> float:
        return float(self._score_batch(self.x[None], self.time)[0])

    def _is_converged(self, score: float, target: float) -> bool:
        return bool(self._converged_batch(np.array([score]), target)[0])

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Keep the default convergence test of a model without its own `_converged_batch`.

        The scalar path then applies it itself, with no numpy call per step.
        """
        super().__init_subclass__(**kwargs)
        if "_is_converged" in vars(cls):
            return  # the model's own scalar test
        default = cls._converged_batch is BatchedModel._converged_batch
        batched = BatchedModel._is_converged
        cls._is_converged = ForwardModel._is_converged if default else batched  # type: ignore[method-assign]


def is_batched(context: RunContext) -> bool:
    """Whether the run's model can advance batches."""
    return issubclass(context.model.cls, BatchedModel)


def run_batch(context: RunContext, tasks: Sequence[SegmentTask]) -> list[SegmentResult]:
    """Run tasks as one batch: the same results as `run_segment` on each, in task order.

    Raises:
        ModelError: Naming the trajectory and the step where the model failed.
    """
    if not tasks:
        return []
    if len(tasks) == 1:  # a batch of one (k = 1): the scalar path is faster, same result
        return [run_segment(context, tasks[0])]
    model = context.build_model(tasks[0].key)
    assert isinstance(model, BatchedModel)
    try:
        return _Batch(model, context, tasks).run()
    except ModelError:
        raise
    except Exception as exc:
        failed = (
            f"batched model {context.model.name} failed on a batch of {len(tasks)} "
            f"trajectories ({tasks[0].key} ...)"
        )
        raise model_failure(failed, exc, context.model.cls) from exc
    finally:
        model.close()


class _Batch:
    """The state of a batch run: current rows, noise blocks and the history of every step."""

    def __init__(
        self, model: BatchedModel, context: RunContext, tasks: Sequence[SegmentTask]
    ) -> None:
        self.model = model
        self.context = context
        self.tasks = tasks
        self.settings: TrajectorySettings = context.trajectory
        self.initial = np.array(model.x, copy=True)  # every initial trajectory starts here
        starts = [self._start(task) for task in tasks]
        self.x = np.stack([x for x, _, _ in starts])
        self.t = np.array([t for _, t, _ in starts], dtype=np.float64)
        self.first_step = np.array([s for _, _, s in starts], dtype=np.int64)
        self.counter = context.noise == COUNTER
        if self.counter:
            self.key = noise_key(context.seed, context.repeat)
            self.slots = np.array([task.key.slot for task in tasks], dtype=np.int64)
            self.generations = np.array([task.key.generation for task in tasks], dtype=np.int64)
            self.rngs = []
        else:
            self.rngs = [
                segment_generator(context.seed, context.repeat, task.key.slot, task.key.generation)
                for task in tasks
            ]

    def _start(self, task: SegmentTask) -> tuple[np.ndarray, float, int]:
        """The row's state, time and step where its segment starts (after any replay)."""
        model = self.model
        if task.start is not None:
            assert task.start.state is not None  # clone tasks start from a stored state
            model.restore(task.start.state, time=task.start.time, step=task.start_index)
            replay(model, task, self.settings, self.context.variant)
            return np.array(model.x, copy=True), model.time, model.step
        return self.initial, 0.0, 0

    def run(self) -> list[SegmentResult]:
        model, settings = self.model, self.settings
        batch = len(self.tasks)
        target = settings.target_score
        ending = Ending.of(settings, self.context.variant)
        x, t = self.x, self.t
        score = self._checked(model._score_batch(x, t), np.arange(batch), 0)
        ended = model._converged_batch(score, target)
        converged = ended.copy()
        ended |= ending.ended_rows(t, score)
        last = np.where(ended, 0, -1)  # index in the history of each row's last snapshot
        history_x, history_t, history_s, history_n = [x.copy()], [t.copy()], [score], []
        block = np.empty(0)
        j = 0
        active = np.flatnonzero(~ended)
        while active.size:
            if j % NOISE_BLOCK == 0:
                block = self._refill(active, block, batch, j)
            noise = block[:, j % NOISE_BLOCK]
            if active.size == batch:
                x, t, score = self._step_all(x, t, noise, ending)
                rows = active
            else:
                rows = active
                x, t, score = x.copy(), t.copy(), score.copy()
                dt = ending.steps(t[rows])
                x[rows] = model._advance_batch(x[rows], t[rows], dt, noise[rows])
                t[rows] = t[rows] + dt
                score[rows] = model._score_batch(x[rows], t[rows])
            j += 1
            self._checked(score[rows], rows, j)
            done = model._converged_batch(score[rows], target)
            converged[rows] = done
            done = done | ending.ended_rows(t[rows], score[rows])
            history_x.append(x)
            history_t.append(t)
            history_s.append(score)
            history_n.append(noise)
            if done.any():
                finished = rows[done]
                last[finished] = j
                active = rows[~done]
        return self._results(history_x, history_t, history_s, history_n, last, converged)

    def _step_all(
        self, x: np.ndarray, t: np.ndarray, noise: np.ndarray, ending: Ending
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step of every row (the fast path: no gather or scatter)."""
        dt = ending.steps(t)
        x = self.model._advance_batch(x, t, dt, noise)
        t = t + dt
        return x, t, self.model._score_batch(x, t)

    def _refill(self, active: np.ndarray, old: np.ndarray, batch: int, j: int) -> np.ndarray:
        """The next block of noise (batch, NOISE_BLOCK, ...) of every active row (0 elsewhere).

        Counter scheme: one vectorised draw, row ``r``'s step ``i`` of the block being model step
        ``first_step[r] + j + i + 1``. Generator scheme: each row from its own generator.
        """
        if self.counter:
            shape = declared_shape(self.model)
            first = self.first_step[active] + (j + 1)
            values = counter_normals(
                self.key, self.slots[active], self.generations[active], first, NOISE_BLOCK, shape
            )
            if active.size == batch:
                return values
            block = np.zeros((batch, *values.shape[1:]), dtype=values.dtype)
            block[active] = values
            return block
        draws = {int(r): self.model._noise_block(self.rngs[r], NOISE_BLOCK) for r in active}
        sample = next(iter(draws.values()))
        block = np.zeros((batch, *sample.shape), dtype=sample.dtype)
        for r, values in draws.items():
            block[r] = values
        del old
        return block

    def _checked(self, scores: np.ndarray, rows: np.ndarray, step: int) -> np.ndarray:
        bad = ~np.isfinite(scores)
        if bad.any():
            row = int(rows[np.flatnonzero(bad)[0]])
            task = self.tasks[row]
            msg = (
                f"model {self.context.model.name} failed in trajectory {task.key} at step "
                f"{int(self.first_step[row]) + step}: the score is {float(scores[bad][0])!r}; a "
                "score must be finite"
            )
            raise ModelError(msg)
        return scores

    def _results(
        self,
        xs: list[np.ndarray],
        ts: list[np.ndarray],
        ss: list[np.ndarray],
        ns: list[np.ndarray],
        last: np.ndarray,
        converged: np.ndarray,
    ) -> list[SegmentResult]:
        """Per-task columns: each row's history up to its last snapshot.

        The histories are transposed once to (row, snapshot, ...) and every task gets views
        of its row: no copy per trajectory.
        """
        x_rows = np.ascontiguousarray(np.stack(xs).swapaxes(0, 1))
        t_rows = np.ascontiguousarray(np.stack(ts).T)
        s_rows = np.ascontiguousarray(np.stack(ss).T)
        shape = ns[0].shape[1:] if ns else self._noise_shape()
        start = np.full((1, len(self.tasks), *shape), np.nan)  # no noise led to snapshot 0
        noise = np.concatenate((start, np.stack(ns))) if ns else start
        n_rows = np.ascontiguousarray(noise.swapaxes(0, 1))
        results = []
        for row, task in enumerate(self.tasks):
            stop = int(last[row]) + 1
            first = 0 if task.start is None else 1  # a clone's branch point is its parent's
            results.append(
                SegmentResult(
                    task=task,
                    times=t_rows[row, first:stop],
                    scores=s_rows[row, first:stop],
                    noises=n_rows[row, first:stop],
                    states=self._kept_states(x_rows[row, first:stop], row, first),
                    converged=bool(converged[row]),
                    model_steps=(stop - 1) + len(task.replay),
                )
            )
        return results

    def _noise_shape(self) -> tuple[int, ...]:
        """One step's noise shape, for a batch that took no step (its noise column is empty).

        The declared ``noise_shape``, else the shape of one draw from a throwaway generator:
        a state's shape need not be the noise's.
        """
        declared = self.model.noise_shape
        if declared is not None:
            return tuple(declared)
        return tuple(np.shape(self.model._make_noise(np.random.default_rng(0))))

    def _kept_states(self, states: np.ndarray, row: int, first: int) -> Any:
        """The row's states, None on the steps where the scalar path keeps none.

        Snapshot ``i`` of ``states`` is the state after step ``first_step + first + i``; as in
        `pytams.core.segment`, a state is kept when its step is a multiple of
        ``store_state_every``.
        """
        every = self.settings.store_state_every
        if every == 1:
            return states
        step = int(self.first_step[row]) + first
        return [state.copy() if (step + i) % every == 0 else None for i, state in enumerate(states)]


def split(tasks: Sequence[SegmentTask], parts: int) -> list[list[SegmentTask]]:
    """Split tasks into at most ``parts`` contiguous, nearly equal, non-empty batches.

    How runners with several workers send a batched model's tasks: one batch per worker.
    """
    parts = max(1, min(parts, len(tasks)))
    size, extra = divmod(len(tasks), parts)
    out, start = [], 0
    for index in range(parts):
        stop = start + size + (index < extra)
        out.append(list(tasks[start:stop]))
        start = stop
    return [chunk for chunk in out if chunk]


def units(
    context: RunContext, tasks: Sequence[SegmentTask], workers: int
) -> list[tuple[SegmentTask, ...]]:
    """How a parallel runner sends tasks: one task per unit, or one batch per worker."""
    if is_batched(context):
        return [tuple(chunk) for chunk in split(tasks, workers)]
    return [(task,) for task in tasks]


def run_unit(context: RunContext, unit: Sequence[SegmentTask]) -> list[SegmentResult]:
    """Run one unit of `units` (in a worker): a batch, or its single task.

    With ``context.files`` the worker reaches the database itself: it reads each clone's
    parent, runs the unit, writes each whole trajectory and returns results that hold only a
    `StoredTrajectory` (so no state travels back). Else the results hold the new snapshots.
    """
    files = context.files
    if files is None:
        return _run(context, unit)
    parents = {t.key: _read_parent(files, t) for t in unit if t.parent is not None}
    sent = {t.key: t for t in unit}  # what the driver sent: no states
    receipts = []
    for result in _run(context, [_resolved(t, parents.get(t.key)) for t in unit]):
        trajectory = result.attach(parents.get(result.task.key))
        files.write(trajectory)
        stored = StoredTrajectory.of(trajectory)
        receipts.append(SegmentResult(task=sent[result.task.key], stored=stored))
    return receipts


def _read_parent(files: TrajectoryFiles, task: SegmentTask) -> Trajectory:
    """The parent of the clone ``task``: only what the clone needs, when ``files`` can say.

    A `TrajectoryFiles` may offer ``read_parent(key, level)``: the parent's times and scores,
    and its noises and states from its last stored state before the branching point to it (a
    large state is then read once, not once per stored snapshot of the prefix).
    """
    assert task.parent is not None
    read_parent = getattr(files, "read_parent", None)
    if read_parent is None or task.resolved or task.level is None:
        return files.read(task.parent)
    parent: Trajectory = read_parent(task.parent, task.level)
    return parent


def _run(context: RunContext, unit: Sequence[SegmentTask]) -> list[SegmentResult]:
    if is_batched(context):
        return run_batch(context, unit)
    return [run_segment(context, task) for task in unit]


def _resolved(task: SegmentTask, parent: Trajectory | None) -> SegmentTask:
    """``task``, completed from its parent if it names only the parent and the level."""
    if task.resolved:
        return task
    assert parent is not None, task
    assert task.level is not None, task
    return clone_task(task.key, parent, task.level)
