"""pytams.models: reference models with known answers, and a 1-D reference solver.

Every model is a `pytams.core.ForwardModel`, registered in the entry-point group
``pytams.models`` and usable as ``model = "pytams.models.<module>:<Class>"``. A model with a
known answer has a classmethod ``known_answer(params, trajectory)`` returning a
`KnownAnswer`; ``pytams compare input.toml`` prints it beside the TAMS estimate.
"""

from importlib.metadata import entry_points
from typing import Any

from pytams.models._known import KnownAnswer
from pytams.models.brownian import BrownianDrift
from pytams.models.cessi import CessiBox
from pytams.models.double_well import DoubleWell1D, DoubleWell2D, DoubleWell3D
from pytams.models.external import ExternalModel
from pytams.models.ornstein_uhlenbeck import OrnsteinUhlenbeck
from pytams.models.triple_well import TripleWell

__all__ = [
    "BrownianDrift",
    "CessiBox",
    "DoubleWell1D",
    "DoubleWell2D",
    "DoubleWell3D",
    "ExternalModel",
    "KnownAnswer",
    "OrnsteinUhlenbeck",
    "TripleWell",
    "registered_models",
]


def registered_models() -> dict[str, type[Any]]:
    """Every model of the entry-point group ``pytams.models`` (any installed package)."""
    return {entry.name: entry.load() for entry in entry_points(group="pytams.models")}
