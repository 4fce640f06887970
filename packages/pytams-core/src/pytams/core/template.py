"""The commented model template written by ``pytams new-model``."""

from __future__ import annotations

import keyword

_TEMPLATE = '''"""{name}: a pytams model (written by `pytams new-model`; fill in the hooks).

Run it with
    pytams run input.toml
where input.toml (`pytams new-model` writes one beside this file) names this class in
[model] class = "{module}.py:{name}" (or give --model {module}.py:{name}) and holds at least
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


_INPUT = """# The input of {name} (written by `pytams new-model`): pytams run this-file.toml
# Paths in this file are relative to its folder. The keys: docs/user-guide.md.
[tams]
ntrajectories = 100   # N, the ensemble size
seed = 1              # every random stream derives from it

[trajectory]
end_time = 1.0        # the horizon T
step_size = 0.01      # dt requested from _advance
target_score = 1.0    # a trajectory converges when its score reaches this

# [database]
# path = "run.tams"   # keep the run on disk (pytams-io); absent: in memory

[model]               # handed to _setup as `params`
class = "{module}.py:{name}"
sigma = 1.0
"""
# names the template itself uses: a class of that name would shadow them
TEMPLATE_NAMES = frozenset({"ForwardModel", "Any", "np", "math", "annotations"})


def model_template(name: str, *, module: str | None = None) -> str:
    """The source of a commented model class called ``name``, in the file ``module``.py."""
    return _TEMPLATE.format(name=name, module=module or name.lower())


def input_template(name: str, *, module: str | None = None) -> str:
    """An input.toml that runs the class ``name`` of the file ``module``.py beside it."""
    return _INPUT.format(name=name, module=module or name.lower())


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be the template's class name, or None when it can."""
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword"
    if not name.isidentifier():
        return f"{name!r} is not a Python identifier (letters, digits and _, not first a digit)"
    if name in TEMPLATE_NAMES:
        return f"{name!r} is a name the template imports"
    return None
