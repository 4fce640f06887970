"""CPU time per model step: the original pyTAMS 1.0.0 against pytams, on the same TAMS run.

The case: 1-D Ornstein-Uhlenbeck dX = -X dt + dW from 0 (the noise scaled as in pyTAMS's own
OU example), end time T, score x / 3, target score 1, one kill per iteration. pyTAMS 1.0.0 is
installed from the package index, once, into a virtual environment of its own under the user's
cache (``$XDG_CACHE_HOME/pytams-bench``): its import name, ``pytams``, is ours too, so it must
never enter this environment. A driver script, written to a temporary folder, runs it there.

Three runs of the same case, each timed as CPU seconds (user + system):

- pyTAMS 1.0.0 (its asyncio runner, its in-memory database): a model written against its
  API, the steps counted by the model itself (calls to ``_advance``, in every process: 1.0.0
  runs trajectories in worker processes, whose CPU time is counted too);
- pytams on the identical model source, through the compat adapter, serial, in memory;
- pytams on its native model (``ou_model.OU``), serial, in memory.

1.0.0 often ends its run early ("splitting is stalling") or needs more kills than pytams: the
runs are capped at the same number of iterations and compared per model step. Prints the
figures and the ratio 1.0.0 / pytams; target: >= 500x for the native model (never asserted).
When 1.0.0 cannot be installed (no network, no uv nor pip), prints one ``skipped`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ou_model import OU

from pytams.core import TAMS, SerialRunner
from pytams.core.loading import load_model_class

VERSION = "1.0.0"
TAG = f"[pytams-{VERSION}]"
TARGET = 500.0
INSTALL_TIMEOUT = 300.0

MODEL_SOURCE = '''\
"""dX = -X dt + dW from 0, score x / barrier: a model written against pyTAMS 1.0.0's API."""

import numpy as np

from pytams.fmodel import ForwardModelBaseClass

ADVANCES = 0  # calls to _advance in this process: the benchmark's count of model steps


class OUPyTAMS(ForwardModelBaseClass):
    """1-D Ornstein-Uhlenbeck with a float state, noise scaled as pyTAMS's OU example."""

    def _init_model(self, m_id, params):
        self._barrier = params["model"].get("barrier", 3.0)
        seed = m_id if params["model"]["deterministic"] else None
        self._rng = np.random.default_rng(seed)
        self._x = 0.0

    def _advance(self, step, time, dt, noise, need_end_state):
        global ADVANCES
        ADVANCES += 1
        self._x = self._x - self._x * dt + np.sqrt(dt) * noise
        return dt

    def get_current_state(self):
        return self._x

    def set_current_state(self, state):
        self._x = float(state)

    def score(self):
        return self._x / self._barrier

    def make_noise(self):
        return float(self._rng.standard_normal())

    @classmethod
    def name(cls):
        return "OUPyTAMS"
'''

DRIVER_SOURCE = '''\
"""Run pyTAMS 1.0.0 on the case given as JSON; print CPU seconds and model steps as JSON.

Worker processes are forked: each reports its count of model steps to a file when it exits.
"""

import json
import multiprocessing
import multiprocessing.util
import os
import resource
import sys
from pathlib import Path

multiprocessing.set_start_method("fork")

import ou_pytams_api  # noqa: E402
from pytams.tams import TAMS  # noqa: E402

COUNTS = Path("counts")


def report():
    (COUNTS / str(os.getpid())).write_text(str(ou_pytams_api.ADVANCES))


def in_child(module):
    module.ADVANCES = 0
    multiprocessing.util.Finalize(None, report, exitpriority=100)


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    case = json.loads(sys.argv[1])
    COUNTS.mkdir()
    multiprocessing.util.register_after_fork(ou_pytams_api, in_child)
    Path("input.toml").write_text(
        f"""
[tams]
ntrajectories = {case["n"]}
nsplititer = {case["max_iterations"] * case["k"]}
walltime = {case["walltime"]}
loglevel = "WARNING"
[trajectory]
end_time = {case["end_time"]}
step_size = {case["dt"]}
targetscore = 1.0
[runner]
type = "asyncio"
nworker_init = 1
nworker_iter = {case["k"]}
[model]
barrier = {case["barrier"]}
"""
    )
    started = cpu_seconds()
    tams = TAMS(fmodel_t=ou_pytams_api.OUPyTAMS, a_args=["-i", "input.toml"])
    try:
        probability, stop = tams.compute_probability(), "finished"
    except RuntimeError as error:  # 1.0.0 raises when all trajectories share one maximum
        probability, stop = float("nan"), str(error)
    cpu = cpu_seconds() - started
    steps = ou_pytams_api.ADVANCES + sum(int(f.read_text()) for f in COUNTS.iterdir())
    kills = tams.get_database().k_split()
    result = {"cpu": cpu, "steps": steps, "probability": probability, "stop": stop}
    print(json.dumps({**result, "kills": kills}))


main()
'''


@dataclass(frozen=True)
class Case:
    """The TAMS run all three measure.

    Attributes:
        n: Trajectories in the ensemble.
        k: Kills per iteration (pyTAMS 1.0.0: its number of iteration workers).
        max_iterations: Iterations at most (1.0.0's ``nsplititer`` counts kills).
        walltime: 1.0.0's ``[tams] walltime`` in seconds (some of its runs go on far past
            ``nsplititer``); the driver is killed after three times as long.
        end_time: Trajectory end time T.
        dt: Step size.
        barrier: The level x of score 1.
    """

    n: int = 10
    k: int = 1
    max_iterations: int = 150
    walltime: float = 40.0
    end_time: float = 2.0
    dt: float = 0.01
    barrier: float = 3.0


@dataclass(frozen=True)
class Measure:
    """CPU seconds and model steps of one run, and its estimate."""

    cpu: float
    steps: int
    probability: float

    @property
    def us_per_step(self) -> float:
        """CPU microseconds per model step."""
        return 1e6 * self.cpu / self.steps


class UnavailableError(Exception):
    """pyTAMS 1.0.0 cannot be installed or run here."""


def cache_root() -> Path:
    """The folder of the cached environment, per Python version (XDG cache convention)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return base / "pytams-bench" / f"pytams-{VERSION}-{python}"


def run_command(command: list[str]) -> None:
    """Run an installation command, raise UnavailableError with its last error line on failure."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UnavailableError(f"{command[0]}: {error}") from error
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise UnavailableError(f"{Path(command[0]).name} {command[1]} failed: {lines[-1]}")


def install(venv: Path) -> None:
    """Create ``venv`` with pyTAMS 1.0.0 in it: uv when on PATH, else venv + pip."""
    python = venv / "bin" / "python"
    uv = shutil.which("uv")
    if uv is not None:
        run_command([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        run_command(
            [uv, "pip", "install", "--quiet", "--python", str(python), f"pytams=={VERSION}"]
        )
    else:
        run_command([sys.executable, "-m", "venv", str(venv)])
        run_command([str(python), "-m", "pip", "install", "--quiet", f"pytams=={VERSION}"])


def original_python() -> Path:
    """The Python of the cached environment with pyTAMS 1.0.0, created on the first call.

    Raises:
        UnavailableError: When the installation fails.
    """
    venv = cache_root()
    done = venv / "installed"
    if not done.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            install(venv)
        except UnavailableError:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        done.write_text(f"pytams=={VERSION}\n")
        print(
            f"{TAG} installed pytams=={VERSION} in {venv} ({time.perf_counter() - started:.1f} s)"
        )
    return venv / "bin" / "python"


def run_original(python: Path, folder: Path, case: Case) -> tuple[Measure, str]:
    """Run pyTAMS 1.0.0's TAMS on the case in its environment; its measure and how it stopped.

    Raises:
        UnavailableError: When the driver fails.
    """
    run_dir = folder / "original"
    run_dir.mkdir()
    (run_dir / "ou_pytams_api.py").write_text(MODEL_SOURCE)
    (run_dir / "driver.py").write_text(DRIVER_SOURCE)
    command = [str(python), "driver.py", json.dumps(asdict(case))]
    try:
        done = subprocess.run(
            command, cwd=run_dir, capture_output=True, text=True, timeout=3 * case.walltime
        )
    except subprocess.TimeoutExpired as error:
        raise UnavailableError(f"pyTAMS {VERSION} did not stop within {error.timeout} s") from error
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no output)"]
        raise UnavailableError(f"pyTAMS {VERSION} run failed: {lines[-1]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    stop = f"{out['stop']}, {out['kills']} kills"
    return Measure(out["cpu"], out["steps"], out["probability"]), stop


def config(case: Case, seed: int) -> dict[str, Any]:
    """Our configuration of the case (native keys), in memory."""
    return {
        "tams": {
            "ntrajectories": case.n,
            "kills_per_iteration": case.k,
            "max_iterations": case.max_iterations,
            "seed": seed,
        },
        "trajectory": {"end_time": case.end_time, "step_size": case.dt, "target_score": 1.0},
        "model": {"barrier": case.barrier},
    }


def run_ours(model: type[Any], case: Case, runs: int = 20) -> tuple[Measure, str]:
    """Run our TAMS on the case with ``model``, serial and in memory, with seeds 1..``runs``.

    One run of ours takes a few hundredths of a second: the CPU time and the steps are summed
    over ``runs`` seeds (after one untimed run that pays for lazy imports); the probability
    is their mean.
    """
    TAMS(model, config(case, 0), runner=SerialRunner()).run()
    cpu, steps, total = 0.0, 0, 0.0
    for seed in range(1, runs + 1):
        started = time.process_time()
        result = TAMS(model, config(case, seed), runner=SerialRunner()).run()
        cpu += time.process_time() - started
        steps += result.model_steps
        total += result.probability
    return Measure(cpu, steps, total / runs), f"mean of {runs} runs"


def verdict(ratio: float) -> str:
    """The ratio against the target."""
    return f"target >= {TARGET:.0f}x: {'met' if ratio >= TARGET else 'MISSED'}"


def report(case: Case, runs: dict[str, tuple[Measure, str]]) -> None:
    """Print the figures, one line each, prefixed by the tag."""
    print(
        f"{TAG} 1-D OU dX = -X dt + dW, T = {case.end_time}, dt = {case.dt}, barrier "
        f"{case.barrier}, N = {case.n}, k = {case.k}, at most {case.max_iterations} iterations"
    )
    for name, (measure, stop) in runs.items():
        print(
            f"{TAG} {name:<24}: {measure.us_per_step:10.2f} us/step ({measure.cpu:6.2f} s CPU, "
            f"{measure.steps} steps), p = {measure.probability:.3g} ({stop})"
        )
    original = runs[f"pyTAMS {VERSION}"][0].us_per_step
    api = original / runs["pytams, pyTAMS-API model"][0].us_per_step
    native = original / runs["pytams, native model"][0].us_per_step
    print(f"{TAG} {VERSION} / pytams, pyTAMS-API model: {api:8.1f}x")
    print(f"{TAG} {VERSION} / pytams, native model    : {native:8.1f}x  ({verdict(native)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trajectories", type=int, default=Case.n)
    parser.add_argument("--max-iterations", type=int, default=Case.max_iterations)
    args = parser.parse_args()
    case = Case(n=args.trajectories, max_iterations=args.max_iterations)
    with tempfile.TemporaryDirectory(prefix="bench-pytams-") as tmp:
        folder = Path(tmp)
        try:
            original = run_original(original_python(), folder, case)
        except UnavailableError as why:
            print(f"{TAG} skipped: {why}")
            return
        (folder / "ou_pytams_api.py").write_text(MODEL_SOURCE)
        api_model = load_model_class(f"{folder / 'ou_pytams_api.py'}:OUPyTAMS")
        runs = {
            f"pyTAMS {VERSION}": original,
            "pytams, pyTAMS-API model": run_ours(api_model, case),
            "pytams, native model": run_ours(OU, case),
        }
    report(case, runs)


if __name__ == "__main__":
    main()
