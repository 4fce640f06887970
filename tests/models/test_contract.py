"""One contract for every registered model: state round trip, determinism, score, convergence."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import ForwardModel
from pytams.models import registered_models

MODELS = registered_models()
EXPECTED = {
    "brownian",
    "ornstein_uhlenbeck",
    "double_well_1d",
    "double_well_2d",
    "double_well_3d",
    "triple_well",
    "cessi",
    "external",
}
DT = 0.01


def test_every_model_is_registered() -> None:
    assert set(MODELS) >= EXPECTED
    for name, cls in MODELS.items():
        assert issubclass(cls, ForwardModel), name


def make(name: str, tmp_path: Path, stepper: Path, model_id: int = 0) -> ForwardModel[Any, Any]:
    params: dict[str, Any] = {}
    if name == "external":
        params = {"executable": str(stepper), "state_dir": str(tmp_path / "states")}
    model: ForwardModel[Any, Any] = MODELS[name](params, model_id=model_id, workdir=tmp_path)
    return model


def same(a: Any, b: Any) -> bool:
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


@pytest.fixture(params=sorted(EXPECTED))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_state_round_trip(name: str, tmp_path: Path, stepper: Path) -> None:
    rng = np.random.default_rng(1)
    model = make(name, tmp_path, stepper)
    for _ in range(5):
        model.advance(DT, model.make_noise(rng))
    saved, score, time, step = model.state, model.score(), model.time, model.step
    noises = [model.make_noise(rng) for _ in range(5)]
    for noise in noises:
        model.advance(DT, noise)
    after = model.state
    model.restore(saved, time=time, step=step)
    assert same(model.state, saved)
    assert model.score() == score
    for noise in noises:
        model.advance(DT, noise)
    assert same(model.state, after) or name == "external"
    if name == "external":  # the state is a path: compare the file contents
        assert Path(model.state).read_text() == Path(after).read_text()


def test_stored_state_never_changes(name: str, tmp_path: Path, stepper: Path) -> None:
    rng = np.random.default_rng(2)
    model = make(name, tmp_path, stepper)
    saved = model.state
    copy = Path(saved).read_text() if name == "external" else np.array(saved, copy=True)
    for _ in range(3):
        model.advance(DT, model.make_noise(rng))
    if name == "external":
        assert Path(saved).read_text() == copy
    else:
        assert same(saved, copy)


def test_deterministic_for_given_noise(name: str, tmp_path: Path, stepper: Path) -> None:
    rng = np.random.default_rng(3)
    first = make(name, tmp_path, stepper, model_id=1)
    second = make(name, tmp_path, stepper, model_id=2)
    noises = [first.make_noise(rng) for _ in range(20)]
    scores = []
    for model in (first, second):
        for noise in noises:
            model.advance(DT, noise)
        scores.append(model.score())
    assert scores[0] == scores[1]
    # noise is drawn from the generator only
    a = make(name, tmp_path, stepper).make_noise(np.random.default_rng(4))
    b = make(name, tmp_path, stepper).make_noise(np.random.default_rng(4))
    assert same(a, b)


def test_score_is_finite_and_starts_below_target(name: str, tmp_path: Path, stepper: Path) -> None:
    model = make(name, tmp_path, stepper)
    assert math.isfinite(model.score())
    assert model.score() < 1.0
    assert not model.is_converged(model.score(), 1.0)
    rng = np.random.default_rng(5)
    for _ in range(50):
        model.advance(DT, model.make_noise(rng))
        assert math.isfinite(model.score())


def test_convergence_rule(name: str, tmp_path: Path, stepper: Path) -> None:
    """Converged exactly when the score reaches the target (no model overrides the rule)."""
    model = make(name, tmp_path, stepper)
    score = model.score()
    assert model.is_converged(score, score)
    assert not model.is_converged(score, score + 1e-9)
    assert model.time == 0.0
    model.advance(DT, model.make_noise(np.random.default_rng(6)))
    assert model.time == DT
    assert model.step == 1


@pytest.mark.slow
def test_known_answers_exist_where_documented() -> None:
    from pytams.core.config import TrajectorySettings

    trajectory = TrajectorySettings(end_time=1.0, step_size=0.01, target_score=1.0)
    for name in EXPECTED - {"triple_well"}:
        answer = MODELS[name].known_answer({"barrier": 3.0} if name != "cessi" else {}, trajectory)
        assert 0.0 < answer.probability < 1.0, name
    assert not hasattr(MODELS["triple_well"], "known_answer")


@pytest.mark.parametrize("name", sorted(EXPECTED - {"external"}))
def test_usable_as_a_top_level_model_key(name: str) -> None:
    """``model = "pytams.models.<module>:<Class>"`` names each model."""
    from pytams.core import TAMS
    from pytams.core.config import load_config

    cls = MODELS[name]
    reference = f"{cls.__module__}:{cls.__name__}"
    config = load_config(
        {
            "model": reference,
            "tams": {"ntrajectories": 4, "seed": 1, "max_iterations": 2},
            "trajectory": {"end_time": 0.05, "step_size": 0.01, "target_score": 1.0},
        }
    )
    assert config.model_ref == reference
    result = TAMS(None, config).run()
    assert result.ntrajectories == 4
