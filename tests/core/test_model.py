"""Model errors name the trajectory, the step and the original error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, ConfigError, ForwardModel, ModelError
from tests.core.models import FailingModel, NaNScore, OrnsteinUhlenbeck


def config(**model: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": 4, "seed": 1},
        "trajectory": {"end_time": 1.0, "step_size": 0.1, "target_score": 1.0},
        "model": model,
    }


def test_advance_error_names_trajectory_step_and_cause() -> None:
    with pytest.raises(ModelError) as info:
        TAMS(FailingModel, config(fail_at=3)).run()
    message = str(info.value)
    assert "trajectory 000000-00000" in message
    assert "at step 3" in message
    assert "FloatingPointError: solver diverged" in message
    assert isinstance(info.value.__cause__, FloatingPointError)


def test_non_finite_score_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="score must be finite"):
        TAMS(NaNScore, config()).run()


def test_bad_time_step_is_a_model_error() -> None:
    class Backwards(OrnsteinUhlenbeck):
        def _advance(self, dt: float, noise: float) -> float:
            return -dt

    with pytest.raises(ModelError, match=r"return the step actually taken, in \(0, dt\]"):
        TAMS(Backwards, config()).run()


def test_retries_rerun_a_failing_task() -> None:
    attempts: list[int] = []

    class Flaky(OrnsteinUhlenbeck):
        def _advance(self, dt: float, noise: float) -> float:
            if not attempts:
                attempts.append(1)
                raise RuntimeError("transient")
            return super()._advance(dt, noise)

    cfg = config()
    cfg["runner"] = {"retries": 1}
    flaky = TAMS(Flaky, cfg).run()
    clean = TAMS(OrnsteinUhlenbeck, config()).run()
    assert flaky == clean


def test_the_state_kept_is_a_copy() -> None:
    class InPlace(ForwardModel[np.ndarray, float]):
        def _setup(self, params: dict[str, Any]) -> None:
            self.x = np.zeros(2)

        def _advance(self, dt: float, noise: float) -> float:
            self.x += noise  # mutates the array in place
            return dt

        def _get_state(self) -> np.ndarray:
            return self.x

        def _set_state(self, state: np.ndarray) -> None:
            self.x = state.copy()

        def _score(self) -> float:
            return float(self.x[0])

        def _make_noise(self, rng: np.random.Generator) -> float:
            return float(rng.standard_normal())

    model = InPlace()
    first = model.state
    model.advance(0.1, 1.0)
    assert first[0] == 0.0
    assert model.state[0] == 1.0


def test_model_class_must_be_a_model(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="not a model class"):
        TAMS("builtins:dict", config())
    with pytest.raises(ConfigError, match="cannot import module"):
        TAMS("no_such_module_xyz:Model", config())
    with pytest.raises(ConfigError, match="no model given"):
        TAMS(None, config())
