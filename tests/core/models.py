"""Small models for the core tests (the reference models live in pytams-models)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core import ForwardModel, Trajectory, TrajectoryKey
from pytams.core.batch import BatchedModel
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


class BatchedOU(BatchedModel):
    """OU in d dimensions, dX = -theta X dt + sigma dW, score mean(x) sqrt(d) / barrier."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.dim = int(params.get("dim", 1))
        self.theta = float(params.get("theta", 1.0))
        self.sigma = float(params.get("sigma", 1.0))
        self.barrier = float(params.get("barrier", 2.0))
        self.x = np.zeros(self.dim)

    def _advance_batch(
        self, states: np.ndarray, times: Any, dt: Any, noise: np.ndarray
    ) -> np.ndarray:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        return np.asarray(
            states + (-self.theta * states * step + self.sigma * np.sqrt(step) * noise)
        )

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        return np.asarray(states.mean(axis=1) * math.sqrt(self.dim) / self.barrier)

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(self.dim)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        return rng.standard_normal((steps, self.dim))


class CounterOU(BatchedOU):
    """`BatchedOU` in 1-D declaring its noise shape: new runs use the counter noise scheme."""

    noise_shape = (1,)


class CounterOU3(BatchedOU):
    """`BatchedOU` in 3-D under the counter noise scheme (run it with ``dim = 3``)."""

    noise_shape = (3,)


class BatchedDoubleWell(BatchedModel):
    """dX = (X - X^3) dt + sqrt(2 eps) dW from -1; score (x + 1) / 2 (target 1 is the +1 well)."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.eps = float(params.get("epsilon", 0.1))
        self.x = np.array([-1.0])

    def _advance_batch(
        self, states: np.ndarray, times: Any, dt: Any, noise: np.ndarray
    ) -> np.ndarray:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        drift = states - states * states * states
        return np.asarray(states + (drift * step + np.sqrt(2.0 * self.eps * step) * noise))

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        return np.asarray((states[:, 0] + 1.0) / 2.0)

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(1)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        return rng.standard_normal((steps, 1))


class BatchedBrownian(BatchedModel):
    """The Brownian motion of examples/brownian as a batched model (same parameters)."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.mu = float(params.get("mu", 0.0))
        self.sigma = float(params.get("sigma", 1.0))
        self.barrier = float(params.get("barrier", 4.0))
        self.time_aware = bool(params.get("time_aware", False))
        self.horizon = float(params.get("horizon", 1.0))
        self.x = np.array([float(params.get("x0", 0.0))])

    def _advance_batch(
        self, states: np.ndarray, times: Any, dt: Any, noise: np.ndarray
    ) -> np.ndarray:
        step = np.asarray(dt, dtype=np.float64).reshape(-1, 1)
        return np.asarray(states + (self.mu * step + self.sigma * np.sqrt(step) * noise))

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        x = states[:, 0]
        if not self.time_aware:
            return np.asarray(x / self.barrier)
        remaining = np.maximum(self.horizon - np.asarray(times), 1e-12 * self.horizon)
        return np.asarray(
            1.0 - (self.barrier - x) / (self.barrier * np.sqrt(remaining / self.horizon))
        )

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(1)

    def _noise_block(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        return rng.standard_normal((steps, 1))


def scripted_trajectory(
    slot: int,
    script: list[float],
    *,
    dt: float = 0.1,
    lower: float = -math.inf,
    steps: int | None = None,
) -> Trajectory:
    """A hand-built initial trajectory of the `Scripted` model walking along ``script``.

    It ends where the engine would end it: at score >= 1 (converged), at score <= ``lower``
    after the start (returned to the start set), or after ``steps`` steps (the horizon).
    """
    length = len(script) if steps is None else min(len(script), steps + 1)
    for i, score in enumerate(script[:length]):
        if score >= 1.0 or (i > 0 and score <= lower):
            length = i + 1
            break
    return Trajectory(
        key=TrajectoryKey(slot),
        times=[i * dt for i in range(length)],
        scores=list(script[:length]),
        noises=[None] + [0.0] * (length - 1),
        states=[(tuple(script), i) for i in range(length)],
        converged=script[length - 1] >= 1.0,
        model_steps=length - 1,
    )


class CounterDoubleWell(BatchedDoubleWell):
    """`BatchedDoubleWell` under the counter noise scheme."""

    noise_shape = (1,)
