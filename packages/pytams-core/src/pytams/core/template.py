"""The commented model template written by ``pytams new-model``."""

from __future__ import annotations

_TEMPLATE = '''"""{name}: a pytams model (written by `pytams new-model`; fill in the hooks).

Run it with
    pytams run input.toml --model {module}.py:{name}
where input.toml holds at least
    [tams]
    ntrajectories = 100
    [trajectory]
    end_time = 1.0        # the horizon T
    step_size = 0.01      # dt requested from _advance
    target_score = 1.0    # a trajectory converges when its score reaches this
    [model]               # free-form: handed to _setup as `params`
    sigma = 1.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytams.core import ForwardModel


class {name}(ForwardModel[np.ndarray, np.ndarray]):
    """Describe the equations, the parameters and the known answer, if any."""

    def _setup(self, params: dict[str, Any]) -> None:
        # Read the [model] table and set the initial state (at time 0).
        self.sigma = float(params.get("sigma", 1.0))
        self.x = np.zeros(1)

    def _advance(self, dt: float, noise: np.ndarray) -> float:
        # Advance the current state by dt using `noise` only (no other randomness), so that
        # a branch replays its parent exactly. self.time is the time at the step's start.
        self.x = self.x + self.sigma * math.sqrt(dt) * noise
        return dt  # the step actually taken (a model may take a shorter one)

    def _get_state(self) -> np.ndarray:
        # The framework keeps this object: return a copy or a value you never mutate.
        return self.x

    def _set_state(self, state: np.ndarray) -> None:
        self.x = np.array(state, copy=True)

    def _score(self) -> float:
        # Larger is closer to the target set; must be finite.
        return float(self.x[0])

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        # Draw the noise of one step from the generator the framework hands over.
        return rng.standard_normal(1)

    # Optional hooks:
    # def _is_converged(self, score: float, target: float) -> bool:
    #     return score >= target          # the default
    # def _close(self) -> None:
    #     ...                             # release external processes or files
'''


def model_template(name: str) -> str:
    """The source of a commented model class called ``name``."""
    return _TEMPLATE.format(name=name, module=name.lower())
