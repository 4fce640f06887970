"""``[trajectory] store_state_every`` on the batched path: the scalar path's states, no more."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, Database, MemoryStore, ModelError, SerialRunner
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment
from pytams.core.trajectory import Trajectory
from tests.core.models import BatchedDoubleWell, BatchedOU


class ScalarRunner(SerialRunner):
    """A serial runner that never batches: the scalar path of a batched model."""

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        for task in tasks:
            yield run_segment(context, task)


def config(every: int, k: int = 1, **model: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": 30, "kills_per_iteration": k, "seed": 3},
        "trajectory": {
            "end_time": 1.5,
            "step_size": 0.01,
            "target_score": 1.0,
            "store_state_every": every,
        },
        "model": model,
    }


def kept(trajectory: Trajectory) -> list[int]:
    """Indices of the snapshots that hold a state."""
    return [i for i, state in enumerate(trajectory.states) if state is not None]


@pytest.mark.parametrize(("every", "k"), [(5, 1), (3, 4)])
@pytest.mark.parametrize(
    ("model", "params"),
    [(BatchedOU, {"dim": 2, "barrier": 1.4}), (BatchedDoubleWell, {"epsilon": 0.12})],
)
def test_batched_keeps_the_states_the_scalar_path_keeps(
    model: type[Any], params: dict[str, Any], every: int, k: int
) -> None:
    scalar_store, batched_store = MemoryStore(), MemoryStore()
    cfg = config(every, k, **params)
    scalar = TAMS(model, cfg, runner=ScalarRunner(), store=scalar_store).run()
    batched = TAMS(model, cfg, store=batched_store).run()
    assert batched == scalar  # clones branch from the same kept states, replaying the rest
    assert scalar.iterations > 3
    scalar_db, batched_db = Database(scalar_store), Database(batched_store)
    assert batched_db.stored_keys() == scalar_db.stored_keys()
    clones = 0
    for key in sorted(scalar_db.stored_keys()):
        one, other = scalar_db.trajectory(key), batched_db.trajectory(key)
        clones += one.parent is not None
        assert kept(other) == kept(one) == list(range(0, len(one), every))
        for i in kept(one):
            assert np.asarray(other.states[i]).tobytes() == np.asarray(one.states[i]).tobytes()
        assert np.asarray(other.scores).tobytes() == np.asarray(one.scores).tobytes()
        assert other.model_steps == one.model_steps
    assert clones >= scalar.kills


def test_every_state_is_kept_by_default() -> None:
    store = MemoryStore()
    TAMS(BatchedOU, config(1, dim=1, barrier=1.2), store=store).run()
    for trajectory in Database(store).ensemble or []:
        assert kept(trajectory) == list(range(len(trajectory)))


def test_a_batched_model_error_names_where_it_was_raised() -> None:
    """As on the scalar path: the model's file, line and method, and its traceback."""

    class Failing(BatchedOU):
        def _advance_batch(
            self, states: np.ndarray, times: Any, dt: Any, noise: np.ndarray
        ) -> np.ndarray:
            raise ZeroDivisionError("boom")

    config = {
        "tams": {"ntrajectories": 4, "seed": 1},
        "trajectory": {"end_time": 1.0, "step_size": 0.1, "target_score": 1.0},
    }
    with pytest.raises(ModelError) as info:
        TAMS(Failing, config).run()
    message = str(info.value)
    assert "batched model" in message
    assert "ZeroDivisionError: boom (raised at test_batch_states.py:" in message
    assert message.endswith(" in _advance_batch)")
    assert info.value.model_traceback is not None
    assert 'raise ZeroDivisionError("boom")' in info.value.model_traceback
