"""pytams.core: exact TAMS rare-event sampling over any forward model."""

from pytams.core.batch import run_unit, units
from pytams.core.config import Config, load_config
from pytams.core.database import Database
from pytams.core.errors import (
    ConfigError,
    DatabaseCorruptError,
    MissingComponentError,
    ModelError,
    RunnerError,
    StorageError,
    TAMSError,
    TAMSWarning,
)
from pytams.core.model import ForwardModel
from pytams.core.result import TAMSResult
from pytams.core.runner import Runner, SerialRunner
from pytams.core.segment import RunContext, SegmentResult, SegmentTask
from pytams.core.snapshot import Snapshot
from pytams.core.stop import StopReason
from pytams.core.store import IterationRecord, MemoryStore, Store
from pytams.core.tams import TAMS, Progress
from pytams.core.trajectory import Trajectory, TrajectoryKey

__all__ = [
    "TAMS",
    "Config",
    "ConfigError",
    "Database",
    "DatabaseCorruptError",
    "ForwardModel",
    "IterationRecord",
    "MemoryStore",
    "MissingComponentError",
    "ModelError",
    "Progress",
    "RunContext",
    "Runner",
    "RunnerError",
    "SegmentResult",
    "SegmentTask",
    "SerialRunner",
    "Snapshot",
    "StopReason",
    "StorageError",
    "Store",
    "TAMSError",
    "TAMSResult",
    "TAMSWarning",
    "Trajectory",
    "TrajectoryKey",
    "__version__",
    "load_config",
    "run_unit",
    "units",
]

__version__ = "0.1.0"
