"""A 1-D Ornstein-Uhlenbeck model for the io tests (self-contained: no pytams-models)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core import ForwardModel

HERE = Path(__file__).resolve().parent
MODEL_REF = f"{HERE / 'ou.py'}:OrnsteinUhlenbeck"


class OrnsteinUhlenbeck(ForwardModel[float, float]):
    """dX = -theta X dt + sigma dW from x0 = 0; score x / barrier; state and noise are floats."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.theta = float(params.get("theta", 1.0))
        self.sigma = float(params.get("sigma", 1.0))
        self.barrier = float(params.get("barrier", 2.0))
        self.x = 0.0

    def _advance(self, dt: float, noise: float) -> float:
        self.x += -self.theta * self.x * dt + self.sigma * math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> float:
        return self.x

    def _set_state(self, state: float) -> None:
        self.x = state

    def _score(self) -> float:
        return self.x / self.barrier

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())


class OtherModel(OrnsteinUhlenbeck):
    """The same dynamics under another name (a database of another model)."""


def ou_config(
    path: Path | None, seed: int = 11, model: str = MODEL_REF, **tams: Any
) -> dict[str, Any]:
    """A run of about a hundred iterations (p about 1e-3), stored at ``path`` if given."""
    config: dict[str, Any] = {
        "model": {"class": model, "barrier": 1.6},
        "tams": {"ntrajectories": 16, "seed": seed, **tams},
        "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
    }
    if path is not None:
        config["database"] = {"path": str(path)}
    return config
