"""Template for an external model: the state lives in files, a step runs an executable.

This is the pattern for wrapping a Fortran or C++ climate code that reads a restart file and
writes the next one. Each step runs

    EXECUTABLE  IN  OUT  DT  NOISE  [ARGUMENTS...]

where IN is the current state file and OUT a new file that the step must write. The state
TAMS keeps for a snapshot is the path of its file: files are never modified after they are
written, so a clone can restart from any stored state of its parent (the framework keeps the
paths; set ``[trajectory] store_state_every`` to keep fewer of them). Each trajectory
segment writes into its own directory ``state_dir/segment-<model_id>``.

The demonstration executable (``external_step.c``, shipped with this module and compiled
with the system C compiler on first use when no ``executable`` is given) steps Brownian
motion with drift, ``x + mu dt + sigma sqrt(dt) noise``, with the same arithmetic as
`pytams.models.brownian.BrownianDrift`: the two models give bitwise identical TAMS runs, and
the known answer is the Euler chain's probability.

``[model]`` parameters: ``executable`` (a path; absent: the compiled demonstration),
``arguments`` (extra command-line arguments, default ``[mu, sigma]``), ``mu`` (0), ``sigma``
(1), ``x0`` (0), ``barrier`` (4), ``state_dir`` (where the state files go; default the
model's workdir / ``pytams-external``), ``timeout`` (seconds per step, 60).

To wrap your own code: keep `_advance` (files in, files out), change `_read_value` /
`_write_value` to your restart format, and compute the score from the state file in `_score`
(or ask your code to write it next to the state).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core import ForwardModel, ModelError
from pytams.core.config import TrajectorySettings
from pytams.models._known import KnownAnswer, number
from pytams.models.brownian import BrownianDrift

_NAME = "ExternalModel"
SOURCE = "external_step.c"


def build_executable(directory: str | Path) -> Path:
    """Compile the demonstration stepper into ``directory`` (once; reused afterwards).

    Raises:
        ModelError: When no C compiler is found or compilation fails.
    """
    source = resources.files("pytams.models").joinpath(SOURCE).read_bytes()
    digest = hashlib.sha1(source).hexdigest()[:10]
    directory = Path(directory)
    target = directory / f"external-step-{digest}"
    if target.exists():
        return target
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        msg = (
            "ExternalModel needs a C compiler to build its demonstration stepper: install "
            "gcc (apt-get install gcc), or give [model] executable = '/path/to/your/code'"
        )
        raise ModelError(msg)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        src = Path(scratch) / SOURCE
        src.write_bytes(source)
        out = Path(scratch) / "step"
        # -ffp-contract=off: no fused multiply-add, so the arithmetic matches Python's
        done = subprocess.run(
            [compiler, "-O2", "-ffp-contract=off", "-o", str(out), str(src), "-lm"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            msg = f"compiling {SOURCE} with {compiler} failed:\n{done.stderr}"
            raise ModelError(msg)
        os.replace(out, target)  # atomic: concurrent workers may build at once
    return target


class ExternalModel(ForwardModel[str, float]):
    """A model stepped by an external executable; the state is the path of a file."""

    def _setup(self, params: dict[str, Any]) -> None:
        self.mu = number(params, "mu", 0.0, model=_NAME)
        self.sigma = number(params, "sigma", 1.0, positive=True, model=_NAME)
        self.x0 = number(params, "x0", 0.0, model=_NAME)
        self.barrier = number(params, "barrier", 4.0, model=_NAME)
        self.timeout = number(params, "timeout", 60.0, positive=True, model=_NAME)
        root = Path(params.get("state_dir", self.workdir / "pytams-external"))
        self.directory = root / f"segment-{self.model_id}"
        self.directory.mkdir(parents=True, exist_ok=True)
        given = params.get("executable")
        self.executable = Path(given) if given else build_executable(root)
        if not os.access(self.executable, os.X_OK):
            msg = (
                f"[model] executable = {str(self.executable)!r} is not an executable "
                "file; give the path of your compiled model"
            )
            raise ModelError(msg)
        self.arguments = [
            str(a) for a in params.get("arguments", [repr(self.mu), repr(self.sigma)])
        ]
        self.path = str(self.directory / "initial.state")
        _write_value(Path(self.path), self.x0)
        self.value = self.x0

    def _advance(self, dt: float, noise: float) -> float:
        out = self.directory / f"{self.step + 1:08d}.state"
        command = [
            str(self.executable),
            self.path,
            str(out),
            repr(dt),
            repr(noise),
            *self.arguments,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            msg = f"{command[0]} took more than {self.timeout} s for one step; raise timeout"
            raise ModelError(msg) from None
        if done.returncode != 0:
            msg = f"{' '.join(command)} failed with status {done.returncode}: {done.stderr.strip()}"
            raise ModelError(msg)
        self.path = str(out)
        self.value = _read_value(out)
        return dt

    def _get_state(self) -> str:
        return self.path

    def _set_state(self, state: str) -> None:
        self.path = str(state)
        self.value = _read_value(Path(self.path))

    def _score(self) -> float:
        return (self.value - self.x0) / (self.barrier - self.x0)

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())

    @classmethod
    def known_answer(
        cls, params: Mapping[str, Any], trajectory: TrajectorySettings
    ) -> KnownAnswer | None:
        """Brownian motion's answer, when the demonstration stepper is used."""
        if params.get("executable") or params.get("arguments"):
            return None
        keys = ("mu", "sigma", "x0", "barrier")
        return BrownianDrift.known_answer({k: params[k] for k in keys if k in params}, trajectory)


def _read_value(path: Path) -> float:
    try:
        return float(path.read_text().split()[0])
    except (OSError, IndexError, ValueError) as exc:
        msg = f"cannot read a state from {path} ({exc}); did the external step write it?"
        raise ModelError(msg) from exc


def _write_value(path: Path, value: float) -> None:
    path.write_text(f"{value!r}\n")
