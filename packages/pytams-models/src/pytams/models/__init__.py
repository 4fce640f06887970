"""pytams.models: reference models with known answers, and a 1-D reference solver.

Every model is a `pytams.core.ForwardModel`, registered in the entry-point group
``pytams.models`` and usable as ``model = "pytams.models.<module>:<Class>"``. A model with a
known answer has a classmethod ``known_answer(params, trajectory)`` returning a
`KnownAnswer`; ``pytams compare input.toml`` prints it beside the TAMS estimate.

The model classes are imported on first use (``pytams.models.BrownianDrift`` imports
``pytams.models.brownian``): importing the package, as the ``pytams`` command does to
register ``compare`` (`pytams.models._commands`), loads no model module and no scipy.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pytams.core.lazy import lazy_exports

if TYPE_CHECKING:
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

#: the module of each name imported on first use
_LAZY = {
    "BrownianDrift": "brownian",
    "CessiBox": "cessi",
    "DoubleWell1D": "double_well",
    "DoubleWell2D": "double_well",
    "DoubleWell3D": "double_well",
    "ExternalModel": "external",
    "KnownAnswer": "_known",
    "OrnsteinUhlenbeck": "ornstein_uhlenbeck",
    "TripleWell": "triple_well",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)


def registered_models() -> dict[str, type[Any]]:
    """Every model of the entry-point group ``pytams.models`` (any installed package)."""
    return {entry.name: entry.load() for entry in entry_points(group="pytams.models")}
