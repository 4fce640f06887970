"""The batched path gives the scalar path's result, bit for bit, for the same seed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, Database, MemoryStore, ModelError, SerialRunner, TAMSResult
from pytams.core.batch import NOISE_BLOCK, BatchedModel, run_batch
from pytams.core.config import TrajectorySettings
from pytams.core.loading import ModelSpec
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment
from pytams.core.trajectory import TrajectoryKey
from tests.core.models import BatchedDoubleWell, BatchedOU


class ScalarRunner(SerialRunner):
    """A serial runner that never batches: the scalar path of a batched model."""

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        for task in tasks:
            yield run_segment(context, task)


def config(k: int, seed: int, n: int = 40, **model: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "kills_per_iteration": k, "seed": seed},
        "trajectory": {"end_time": 1.5, "step_size": 0.01, "target_score": 1.0},
        "model": model,
    }


def both_paths(
    model: type[Any], cfg: dict[str, Any]
) -> tuple[TAMSResult, TAMSResult, Database, Database]:
    scalar_store, batched_store = MemoryStore(), MemoryStore()
    scalar = TAMS(model, cfg, runner=ScalarRunner(), store=scalar_store).run()
    batched = TAMS(model, cfg, store=batched_store).run()
    return scalar, batched, Database(scalar_store), Database(batched_store)


CASES = [
    (BatchedOU, {"dim": 1, "barrier": 1.6}),
    (BatchedOU, {"dim": 3, "barrier": 1.4}),
    (BatchedDoubleWell, {"epsilon": 0.12}),
]


@pytest.mark.parametrize("k", [1, 10])
@pytest.mark.parametrize(("model", "params"), CASES)
def test_batched_equals_scalar(model: type[Any], params: dict[str, Any], k: int) -> None:
    scalar, batched, scalar_db, batched_db = both_paths(model, config(k, 7, **params))
    assert batched == scalar  # probability, levels, iterations, weights, steps: bit for bit
    assert scalar.iterations > 3
    for one, other in zip(scalar_db.ensemble or [], batched_db.ensemble or [], strict=True):
        assert np.array_equal(np.asarray(one.scores), other.scores)
        assert np.array_equal(np.asarray(one.times), other.times)
        assert np.array_equal(np.stack(one.states), other.states)
        assert one.converged == other.converged


def test_noise_block_equals_successive_draws() -> None:
    model = BatchedOU({"dim": 2})
    first, second = np.random.default_rng(3), np.random.default_rng(3)
    block = model._noise_block(first, NOISE_BLOCK)
    steps = np.stack([model._make_noise(second) for _ in range(NOISE_BLOCK)])
    assert np.array_equal(block, steps)
    default = BatchedModel._noise_block(model, np.random.default_rng(3), 5)
    assert np.array_equal(default, block[:5])


def test_batched_run_through_runs_longer_than_a_noise_block() -> None:
    cfg = config(1, 2, n=10, dim=1, barrier=1.2)
    cfg["trajectory"]["end_time"] = 3.0  # 300 steps, several noise blocks
    scalar, batched, _, _ = both_paths(BatchedOU, cfg)
    assert batched == scalar


def test_ams_variant_batched_equals_scalar() -> None:
    cfg = config(2, 5, n=20, epsilon=0.15)
    cfg["tams"]["variant"] = "hybrid"
    cfg["trajectory"]["min_score"] = -0.05
    scalar, batched, _, _ = both_paths(BatchedDoubleWell, cfg)
    assert batched == scalar


def test_non_finite_score_in_a_batch_names_the_trajectory() -> None:
    class Exploding(BatchedOU):
        def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
            scores = super()._score_batch(states, times)
            return np.where(np.asarray(times) > 0.495, np.inf, scores)

    with pytest.raises(ModelError, match=r"trajectory 000000-00000 at step 50: the score is inf"):
        TAMS(Exploding, config(1, 1, n=5)).run()


def test_split_keeps_order_and_sizes() -> None:
    from pytams.core.batch import split
    from pytams.core.trajectory import TrajectoryKey

    tasks = [SegmentTask(key=TrajectoryKey(i)) for i in range(7)]
    chunks = split(tasks, 3)
    assert [len(c) for c in chunks] == [3, 2, 2]
    assert [t for c in chunks for t in c] == tasks
    assert split(tasks[:2], 5) == [[tasks[0]], [tasks[1]]]


class PlaneDrivenByOneNoise(BatchedOU):
    """A 2-d state driven by 1-d noise (the noise's shape is not the state's)."""

    def _setup(self, params: dict[str, Any]) -> None:
        super()._setup({"dim": 2, **params})

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(1)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        return rng.standard_normal((steps, 1))


@pytest.mark.parametrize("declared", [False, True])
def test_a_batch_that_takes_no_step_keeps_the_noise_shape(declared: bool) -> None:
    """All rows end at once (here: converged at t = 0): the noise column is (1, *noise)."""
    model = type("Declared", (PlaneDrivenByOneNoise,), {"noise_shape": (1,)})
    chosen = model if declared else PlaneDrivenByOneNoise
    settings = TrajectorySettings(end_time=1.0, step_size=0.1, target_score=-1.0)
    context = RunContext(
        model=ModelSpec(chosen, None), model_params={}, tables={}, trajectory=settings, seed=1
    )
    results = run_batch(context, [SegmentTask(key=TrajectoryKey(slot)) for slot in range(2)])
    assert [r.noises.shape for r in results] == [(1, 1), (1, 1)]
    assert [r.states.shape for r in results] == [(1, 2), (1, 2)]
