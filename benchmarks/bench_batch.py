"""Batched models: model steps per second of the batched path, the scalar path, and numpy.

1-D Ornstein-Uhlenbeck, N trajectories, measured in the same run: the initial ensemble and a
whole TAMS run with k = 100 through the batched path and the scalar path (the same model's
scalar hooks, the same results bit for bit), and a hand-written numpy Euler loop over the same
batch, history kept: with per-trajectory generators (the ``generator`` noise scheme's
streams: building a generator takes about 25 us) and with one generator for the whole batch.
The OU declares ``noise_shape = (1,)``, so pytams runs it under the ``counter`` noise scheme
(Philox4x32-10 over the whole batch in one numpy call, `pytams.core.noise`). Also measured: the
batched path alone (`run_batch` on the N initial tasks, no engine bookkeeping) and the counter
noise alone. And whole runs of the batched model against the same OU written as a float scalar
model (``ou_model.OU``: floats, no numpy per step), at k = 1 (N = 100) and k = 100, CPU per
model step. Targets: batched >= 20x scalar on the initial ensemble; the batched initial
ensemble within 2x of the one-generator numpy loop; the batched model no slower than the float
model at small k.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import ou_model

from pytams.core import TAMS, SerialRunner
from pytams.core.batch import NOISE_BLOCK, BatchedModel, run_batch
from pytams.core.config import TrajectorySettings
from pytams.core.loading import ModelSpec
from pytams.core.noise import counter_normals, noise_key
from pytams.core.rng import COUNTER, segment_generator
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment
from pytams.core.trajectory import TrajectoryKey

DT, T, BARRIER = 0.01, 1.0, 2.5


class OU(BatchedModel):
    """dX = -X dt + dW from 0, score x / barrier; standard-normal noise (the counter scheme)."""

    noise_shape = (1,)

    def _setup(self, params: dict[str, Any]) -> None:
        self.x = np.zeros(1)

    def _advance_batch(
        self, states: np.ndarray, times: Any, dt: Any, noise: np.ndarray
    ) -> np.ndarray:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        return np.asarray(states + (-states * step + np.sqrt(step) * noise))

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        return states[:, 0] / BARRIER


class ScalarRunner(SerialRunner):
    """The scalar path of the same model: one task at a time, no batching."""

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        for task in tasks:
            yield run_segment(context, task)


def tams(
    n: int, k: int, initial_only: bool, scalar: bool, model: type[Any] | None = None
) -> tuple[float, int]:
    config: dict[str, Any] = {
        "tams": {"ntrajectories": n, "kills_per_iteration": k, "seed": 3},
        "trajectory": {"end_time": T, "step_size": DT, "target_score": 1.0},
        "model": {"barrier": BARRIER},
    }
    if initial_only:
        config["tams"]["max_iterations"] = 0
    started = time.process_time()
    runner = ScalarRunner() if scalar else None
    result = TAMS(model or OU, config, runner=runner).run()
    return time.process_time() - started, result.model_steps


def against_float(repeats: int, n: int, k: int) -> float:
    """CPU per step of the batched model's whole run / the float scalar model's."""
    batched = best(repeats, tams, n, k, False, False)
    floats = best(repeats, tams, n, k, False, False, ou_model.OU)
    return floats / batched


def numpy_loop(n: int, per_trajectory_noise: bool) -> tuple[float, int]:
    """The hand-written vectorised Euler loop over the same batch, keeping the history."""
    started = time.perf_counter()
    steps = round(T / DT)
    x = np.zeros(n)
    history = np.empty((steps + 1, n))
    history[0] = x
    if per_trajectory_noise:
        rngs = [segment_generator(3, 0, slot, 0) for slot in range(n)]
        noise = np.stack([g.standard_normal(steps) for g in rngs], axis=1)
    else:
        rng = np.random.default_rng(3)
    for j in range(steps):
        xi = noise[j] if per_trajectory_noise else rng.standard_normal(n)
        x = x + (-x * DT + np.sqrt(DT) * xi)
        history[j + 1] = x
    return time.perf_counter() - started, steps * n


def batch_only(n: int) -> tuple[float, int]:
    """The batched path alone: `run_batch` on the N initial tasks (counter scheme)."""
    settings = TrajectorySettings(end_time=T, step_size=DT, target_score=1.0)
    context = RunContext(
        model=ModelSpec(OU, None),
        model_params={},
        tables={},
        trajectory=settings,
        seed=3,
        noise=COUNTER,
    )
    tasks = [SegmentTask(key=TrajectoryKey(slot)) for slot in range(n)]
    started = time.perf_counter()
    results = run_batch(context, tasks)
    return time.perf_counter() - started, sum(r.model_steps for r in results)


def noise_only(n: int) -> tuple[float, int]:
    """The counter noise of N rows x T / dt steps, in blocks of NOISE_BLOCK steps."""
    steps = round(T / DT)
    key, slots, zeros = noise_key(3, 0), np.arange(n), np.zeros(n, dtype=np.int64)
    started = time.perf_counter()
    for first in range(0, steps, NOISE_BLOCK):
        counter_normals(key, slots, zeros, zeros + first + 1, NOISE_BLOCK, (1,))
    return time.perf_counter() - started, steps * n


def best(repeats: int, fn: Any, *args: Any) -> float:
    """Model steps per second, best of ``repeats``."""
    runs = [fn(*args) for _ in range(repeats)]
    return float(max(steps / seconds for seconds, steps in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trajectories", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    n, k, r = args.trajectories, args.kills, args.repeats
    batched_initial = best(r, tams, n, k, True, False)
    scalar_initial = best(1, tams, n, k, True, True)
    batched_run = best(r, tams, n, k, False, False)
    scalar_run = best(1, tams, n, k, False, True)
    numpy_one = best(r, numpy_loop, n, False)
    numpy_each = best(r, numpy_loop, n, True)
    batch_alone = best(r, batch_only, n)
    noise_alone = best(r, noise_only, n)
    small_k = against_float(3, 100, 1)
    large_k = against_float(3, n, k)
    print(f"[batch] 1-D OU, N = {n}, T = {T}, dt = {DT}; model steps per second")
    print(f"[batch] initial ensemble, batched path : {batched_initial:12.0f}")
    print(f"[batch] initial ensemble, scalar path  : {scalar_initial:12.0f}")
    print(f"[batch] whole run k = {k}, batched path : {batched_run:12.0f}")
    print(f"[batch] whole run k = {k}, scalar path  : {scalar_run:12.0f}")
    print(f"[batch] numpy loop, same noise streams : {numpy_each:12.0f}")
    print(f"[batch] numpy loop, one generator      : {numpy_one:12.0f}")
    print(f"[batch] batched path alone (run_batch)  : {batch_alone:12.0f}")
    print(f"[batch] counter noise alone (normals/s) : {noise_alone:12.0f}")
    speedup = batched_initial / scalar_initial
    gap = numpy_one / batched_initial
    print(
        f"[batch] batched / scalar (initial)     : {speedup:8.1f}x (target >= 20: "
        f"{'met' if speedup >= 20 else 'MISSED'})"
    )
    print(f"[batch] batched / scalar (whole run)   : {batched_run / scalar_run:8.1f}x")
    print(
        f"[batch] one-generator loop / batched (initial) : {gap:8.1f}x (target <= 2: "
        f"{'met' if gap <= 2 else 'MISSED'}); per-trajectory-generator loop / batched: "
        f"{numpy_each / batched_initial:.1f}x"
    )
    print(
        f"[batch] one-generator loop / batched path alone : {numpy_one / batch_alone:8.1f}x; "
        f"/ counter noise alone: {numpy_one / noise_alone:.1f}x"
    )
    for label, ratio in (("k = 1, N = 100", small_k), (f"k = {k}, N = {n}", large_k)):
        print(
            f"[batch] whole run {label}: batched / float scalar model CPU per step "
            f"{ratio:6.2f}x (target <= 1: {'met' if ratio <= 1 else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
