"""A batched model's tasks travel as one batch per worker, with the serial result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, Database, MemoryStore, SerialRunner, TAMSResult
from pytams.core.batch import units
from pytams.core.config import TrajectorySettings
from pytams.core.loading import ModelSpec
from pytams.core.segment import RunContext, SegmentTask
from pytams.core.trajectory import TrajectoryKey
from pytams.runners import AsyncioRunner, DaskRunner

OU = "pytams.models.ornstein_uhlenbeck:OrnsteinUhlenbeck"
# the counter noise scheme (noise_shape), from a file the workers import by path
COUNTER_OU = f"{Path(__file__).parents[1] / 'core' / 'models.py'}:CounterOU3"
CONFIG = {
    "tams": {"ntrajectories": 24, "kills_per_iteration": 4, "seed": 5},
    "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
    "model": {"dim": 2, "barrier": 2.0},
}
RUNNERS: dict[str, Callable[[], Any]] = {
    "asyncio-2": lambda: AsyncioRunner(workers=2),
    "dask-2": lambda: DaskRunner(workers=2),
}


def run(runner: Any, model: str = OU) -> tuple[TAMSResult, Database]:
    store = MemoryStore()
    config = {**CONFIG, "model": {"dim": 3, "barrier": 2.0}} if model == COUNTER_OU else CONFIG
    result = TAMS(model, config, runner=runner, store=store).run()
    return result, Database(store)


def test_units_are_one_batch_per_worker() -> None:
    from pytams.core.loading import load_model_class

    settings = TrajectorySettings(end_time=1.0, step_size=0.1, target_score=1.0)
    context = RunContext(
        model=ModelSpec(load_model_class(OU), OU),
        model_params={},
        tables={},
        trajectory=settings,
        seed=1,
    )
    tasks = [SegmentTask(key=TrajectoryKey(i)) for i in range(5)]
    assert [len(u) for u in units(context, tasks, 2)] == [3, 2]


@pytest.mark.parametrize("model", [OU, COUNTER_OU], ids=["generator", "counter"])
@pytest.mark.parametrize("name", list(RUNNERS))
def test_batched_model_on_parallel_runners_gives_the_serial_result(name: str, model: str) -> None:
    want, want_db = run(SerialRunner(), model)
    got, got_db = run(RUNNERS[name](), model)
    assert want_db.metadata is not None
    assert want_db.metadata["noise"] == ("counter" if model == COUNTER_OU else "generator")
    assert got == want
    assert got.iterations > 3
    assert got_db.iterations == want_db.iterations
    assert got_db.ensemble == want_db.ensemble
