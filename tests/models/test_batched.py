"""The reference models are batched models: the batched path equals their scalar path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from pytams.core import TAMS, SerialRunner
from pytams.core.batch import BatchedModel
from pytams.core.loading import load_model_class
from pytams.core.segment import RunContext, SegmentResult, SegmentTask, run_segment


class ScalarRunner(SerialRunner):
    """Never batches: each task through the scalar hooks."""

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        for task in tasks:
            yield run_segment(context, task)


CASES = [
    ("pytams.models.brownian:BrownianDrift", {"barrier": 2.5}),
    ("pytams.models.ornstein_uhlenbeck:OrnsteinUhlenbeck", {"dim": 2, "barrier": 2.0}),
    ("pytams.models.double_well:DoubleWell1D", {"eps": 0.1}),
    ("pytams.models.double_well:DoubleWell3D", {"eps": 0.1}),
]


@pytest.mark.parametrize("k", [1, 10])
@pytest.mark.parametrize(("reference", "params"), CASES)
def test_batched_path_equals_scalar_path(reference: str, params: dict[str, Any], k: int) -> None:
    model = load_model_class(reference)
    assert issubclass(model, BatchedModel)
    config = {
        "tams": {"ntrajectories": 30, "kills_per_iteration": k, "seed": 11},
        "trajectory": {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0},
        "model": params,
    }
    batched = TAMS(model, config).run()
    scalar = TAMS(model, config, runner=ScalarRunner()).run()
    assert batched == scalar
    assert batched.iterations > 0
