"""Small models for the core tests (the reference models live in pytams-models)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core import ForwardModel
from pytams.core.loading import load_model_class

ROOT = Path(__file__).resolve().parents[2]
BROWNIAN_FILE = ROOT / "examples" / "brownian" / "brownian.py"
BrownianMotion: type[Any] = load_model_class(f"{BROWNIAN_FILE}:BrownianMotion")
REFERENCE = ROOT / "tests" / "data" / "brownian.csv"


class OrnsteinUhlenbeck(ForwardModel[float, float]):
    """dX = -theta X dt + sigma dW from x0 = 0; score x / barrier."""

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


class VectorOU(ForwardModel[np.ndarray, np.ndarray]):
    """OU in d dimensions with array state (for state storage and replay tests)."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.dim = int(params.get("dim", 3))
        self.x = np.zeros(self.dim)

    def _advance(self, dt: float, noise: np.ndarray) -> float:
        self.x = self.x - self.x * dt + math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> np.ndarray:
        return self.x

    def _set_state(self, state: np.ndarray) -> None:
        self.x = np.array(state, copy=True)

    def _score(self) -> float:
        return float(self.x.mean() * math.sqrt(self.dim) / 2.0)

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(self.dim)


class Scripted(ForwardModel[tuple[tuple[float, ...], int], float]):
    """A deterministic model walking along a script of scores; the state is (script, index).

    The noise is drawn but ignored, so a clone follows its parent's script exactly: the
    algorithm's bookkeeping can be checked by hand.
    """

    def _setup(self, params: dict[str, Any]) -> None:
        self.script = tuple(params.get("script", (0.0, 0.1, 0.2, 0.3, 0.4)))
        self.index = 0

    def _advance(self, dt: float, noise: float) -> float:
        self.index += 1
        return dt

    def _get_state(self) -> tuple[tuple[float, ...], int]:
        return (self.script, self.index)

    def _set_state(self, state: tuple[tuple[float, ...], int]) -> None:
        self.script, self.index = state

    def _score(self) -> float:
        return float(self.script[min(self.index, len(self.script) - 1)])

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())


class FailingModel(OrnsteinUhlenbeck):
    """Raises in _advance at a given step."""

    def _setup(self, params: dict[str, Any]) -> None:
        super()._setup(params)
        self.fail_at = int(params.get("fail_at", 3))

    def _advance(self, dt: float, noise: float) -> float:
        if self.step + 1 >= self.fail_at:
            msg = "solver diverged"
            raise FloatingPointError(msg)
        return super()._advance(dt, noise)


class NaNScore(OrnsteinUhlenbeck):
    """Returns a NaN score after a few steps."""

    def _score(self) -> float:
        return float("nan") if self.step >= 2 else 0.0
