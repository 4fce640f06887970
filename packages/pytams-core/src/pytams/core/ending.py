"""When a trajectory ends: the one rule every stepping path follows.

A trajectory ends when it converges (the model's test), at the horizon T (variants tams and
hybrid; to within 1e-9 dt), or when its score falls to ``[trajectory] min_score`` (variants ams
and hybrid: back in the start set). The last step is shortened to land on T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pytams.core.config import TrajectorySettings


@dataclass(frozen=True, slots=True)
class Ending:
    """The end rule of one run's trajectories (convergence aside: the model decides it).

    Attributes:
        horizon: T, or infinity for the ams variant.
        step_size: dt.
        lower: The score at or below which a trajectory ends (-inf for the tams variant).
        tolerance: How close to T counts as T.
    """

    horizon: float
    step_size: float
    lower: float
    tolerance: float

    @classmethod
    def of(cls, settings: TrajectorySettings, variant: str) -> Ending:
        """The rule for ``[trajectory]`` settings and a variant."""
        lower = settings.min_score if variant != "tams" and settings.min_score is not None else None
        return cls(
            horizon=math.inf if variant == "ams" else settings.end_time,
            step_size=settings.step_size,
            lower=-math.inf if lower is None else lower,
            tolerance=1e-9 * settings.step_size,
        )

    def ended(self, time: float, score: float) -> bool:
        """Whether a trajectory at ``time`` with ``score`` ends (unless it converged first)."""
        return self.horizon - time <= self.tolerance or score <= self.lower

    def ended_rows(self, times: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """`ended` for arrays of rows."""
        return (self.horizon - times <= self.tolerance) | (scores <= self.lower)

    def step(self, time: float) -> float:
        """The step to take from ``time``: dt, or what is left to the horizon."""
        left = self.horizon - time
        return self.step_size if left > self.step_size else left

    def steps(self, times: np.ndarray) -> np.ndarray:
        """`step` for arrays of rows."""
        left = self.horizon - times
        return np.where(left > self.step_size, self.step_size, left)
