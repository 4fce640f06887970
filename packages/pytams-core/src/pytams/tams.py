"""The driver class of the original pyTAMS, so that its driver scripts run unchanged.

A pyTAMS 1.0.0 script::

    from pytams.tams import TAMS
    from mymodel import MyModel

    if __name__ == "__main__":
        tams = TAMS(fmodel_t=MyModel)  # reads -i/--input (default input.toml)
        probability = tams.compute_probability()
        tdb = tams.get_database()

runs the pytams engine (`pytams.core.TAMS`) on the same input file. New code can call the
engine directly: ``pytams.core.TAMS(MyModel, "input.toml").run()``.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path
from typing import Any

from pytams.core import tams as engine
from pytams.core.config import Config, load_config
from pytams.core.errors import ConfigError
from pytams.core.logs import configure_logging
from pytams.core.result import TAMSResult
from pytams.database import Database

_logger = logging.getLogger(__name__)

__all__ = ["TAMS", "parse_cl_args"]


def parse_cl_args(a_args: list[str] | None = None) -> argparse.Namespace:
    """Parse pyTAMS's command line: ``-i/--input`` (default ``input.toml``).

    Args:
        a_args: The arguments; None reads the program's own (``sys.argv[1:]``), as pyTAMS.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("-i", "--input", help="pyTAMS input .toml file", default="input.toml")
    return parser.parse_args(a_args)


class TAMS:
    """PyTAMS's TAMS class: reads the input file, runs TAMS, gives the probability.

    Args:
        fmodel_t: The model class (a `pytams.fmodel.ForwardModelBaseClass` subclass, or a
            `pytams.core.ForwardModel` one).
        a_args: Command-line arguments (``["-i", "input.toml"]``). None parses the program's
            own arguments (``sys.argv[1:]``), as pyTAMS does, so an unknown argument of the
            program stops it with argparse's usage message.

    Raises:
        ConfigError: When the input file does not exist or is not a valid configuration.

    Attributes:
        config: The parsed configuration.
        result: The `pytams.core.TAMSResult` of the last `compute_probability` (None before).
    """

    def __init__(self, fmodel_t: type[Any], a_args: list[str] | None = None) -> None:
        self._start = time.monotonic()
        input_file = Path(parse_cl_args(a_args).input)
        if not input_file.is_file():
            msg = f"Could not find the {input_file} TAMS input file (give it with -i/--input)"
            raise ConfigError(msg)
        self.config: Config = load_config(input_file)
        configure_logging(self.config)
        self._fmodel_t = fmodel_t
        self._engine = engine.TAMS(fmodel_t, self.config)
        self.result: TAMSResult | None = None
        self._database: Database | None = None

    def compute_probability(self) -> float:
        """Run (or resume) TAMS and return the transition probability.

        Returns:
            The estimate; -1.0, as pyTAMS, when the run stopped at its walltime or after the
            initial ensemble (``[tams] init_ensemble_only``) with no estimate to give. Run
            again to continue from an on-disk database (``[database] path``).
        """
        _logger.info("Computing %s rare event probability using TAMS", self._fmodel_t.__name__)
        self._database = None
        result = self.result = self._engine.run()
        if not result.complete:
            _logger.warning("Ran out of walltime! Exiting now.")
            return -1.0
        if self.config.tams.init_ensemble_only and result.stop_reason != "all_converged":
            _logger.warning("Stopping after the initial ensemble stage!")
            return -1.0
        _logger.info("Run time: %g s", self.elapsed_time())
        return float(result.probability)

    def get_database(self) -> Database:
        """The run's database, as pyTAMS's `pytams.database.Database`.

        Raises:
            RuntimeError: Before `compute_probability`, or for a run of several repeats
                (each has its own database: ``tams.result.repeats[i].database``).
        """
        if self.result is None:
            msg = "no database yet: call compute_probability() first"
            raise RuntimeError(msg)
        if self.result.database is None:
            msg = (
                "a run of several repeats has no single database; read "
                "Database(tams.result.repeats[i].database)"
            )
            raise RuntimeError(msg)
        if self._database is None:
            self._database = Database(self.result.database)
        return self._database

    def n_traj(self) -> int:
        """N, the number of trajectories."""
        return self.config.tams.ntrajectories

    def elapsed_time(self) -> float:
        """Seconds since this object was created."""
        return time.monotonic() - self._start

    def remaining_walltime(self) -> float:
        """Seconds left of ``[tams] walltime`` (inf without a walltime)."""
        walltime = self.config.tams.walltime
        return math.inf if walltime is None else walltime - self.elapsed_time()

    def out_of_time(self) -> bool:
        """Whether less than 5% of the walltime remains (pyTAMS's margin)."""
        walltime = self.config.tams.walltime
        return walltime is not None and self.remaining_walltime() < 0.05 * walltime
