"""Small models for the runner tests: an Ornstein-Uhlenbeck process with fault injection."""

from __future__ import annotations

import hashlib
import math
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core import ForwardModel

HERE = Path(__file__).resolve().parent
MODELS_FILE = HERE / "models.py"


class FaultyOU(ForwardModel[float, float]):
    """dX = -theta X dt + sigma dW from 0; score x / barrier.

    ``[model]`` keys besides theta, sigma, barrier:
        sleep: seconds of busy work per step (a costly model).
        fail_dir: a directory for the fault switches below.
        fail_one_in: fail once (the first attempt) in the segments whose model id hashes to
            0 modulo this number; a marker file in fail_dir remembers the failure.
        The file ``fail_dir/broken``: while it exists, every step fails.
        trace_dir: each segment writes a file there: its process id, whether it is a clone,
            and the wall-clock interval it ran in.
        exit_code: when given, the process exits with it at the first step (a dying worker).
    """

    def _setup(self, params: dict[str, Any]) -> None:
        self.theta = float(params.get("theta", 1.0))
        self.sigma = float(params.get("sigma", 1.0))
        self.barrier = float(params.get("barrier", 2.0))
        self.sleep = float(params.get("sleep", 0.0))
        fail_dir = params.get("fail_dir")
        self.fail_dir = None if fail_dir is None else Path(fail_dir)
        self.fail_one_in = int(params.get("fail_one_in", 0))
        self.exit_code = params.get("exit_code")
        self.x = 0.0
        self.fail_at = -1
        trace_dir = params.get("trace_dir")
        self.trace_dir = None if trace_dir is None else Path(trace_dir)
        self.is_clone = False
        self.started = time.time()
        if self.fail_dir is not None and self.fail_one_in:
            digest = hashlib.sha256(str(self.model_id).encode()).digest()
            if int.from_bytes(digest[:8], "little") % self.fail_one_in == 0:
                marker = self.fail_dir / f"failed-{self.model_id}"
                if not marker.exists():
                    marker.touch()
                    self.fail_at = 3

    def _advance(self, dt: float, noise: float) -> float:
        if self.exit_code is not None:
            os._exit(int(self.exit_code))
        if self.fail_dir is not None and (self.fail_dir / "broken").exists():
            raise RuntimeError("injected fault: the file 'broken' exists")
        if self.step == self.fail_at:
            raise RuntimeError(f"injected transient fault in model {self.model_id}")
        if self.sleep:
            busy_until = time.perf_counter() + self.sleep
            while time.perf_counter() < busy_until:
                pass
        self.x += -self.theta * self.x * dt + self.sigma * math.sqrt(dt) * noise
        return dt

    def _get_state(self) -> float:
        return self.x

    def _set_state(self, state: float) -> None:
        self.x = state
        self.is_clone = True

    def _close(self) -> None:
        if self.trace_dir is not None:
            line = f"{os.getpid()} {int(self.is_clone)} {self.started!r} {time.time()!r}\n"
            (self.trace_dir / f"{self.model_id}-{uuid.uuid4().hex}").write_text(line)

    def _score(self) -> float:
        return self.x / self.barrier

    def _make_noise(self, rng: np.random.Generator) -> float:
        return float(rng.standard_normal())


def tables(
    *,
    n: int = 20,
    k: int = 2,
    seed: int = 11,
    runner: str = "serial",
    workers: int = 1,
    retries: int = 0,
    model: dict[str, Any] | None = None,
    dask: dict[str, Any] | None = None,
    end_time: float = 1.0,
    step_size: float = 0.05,
    max_iterations: int | None = 30,
    resume: bool = False,
) -> dict[str, Any]:
    """A configuration mapping for a short TAMS run of `FaultyOU`."""
    tams: dict[str, Any] = {"ntrajectories": n, "kills_per_iteration": k, "seed": seed}
    if max_iterations is not None:
        tams["max_iterations"] = max_iterations
    out: dict[str, Any] = {
        "tams": tams,
        "trajectory": {
            "end_time": end_time,
            "step_size": step_size,
            "target_score": 1.0,
            "store_state_every": 3,
        },
        "runner": {"type": runner, "workers": workers, "retries": retries},
        "model": {"theta": 1.0, "sigma": 1.0, "barrier": 2.0, **(model or {})},
    }
    if dask is not None:
        out["dask"] = dask
    if resume:
        out["database"] = {"resume": True}
    return out
