"""NetCDFStore against MemoryStore: run time of the same run (same seed), and bytes on disk.

Two cases: a 1-D Ornstein-Uhlenbeck model (every state stored), and a 10,000-dimensional
stochastic field (states stored every 10 steps, driven by 16 noise modes). Prints the run
times (best of each, and the median ratio of the paired runs), the CPU of the driver thread
and of all threads (the store fsyncs in a background thread), and the bytes on disk per
stored state against the raw state size, measured in the same run. Targets (10,000-d case):
disk <= 1.2x raw, overhead <= 30% (best of each).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from ou_model import OU

from pytams.core import TAMS, Database, MemoryStore, TAMSResult
from pytams.core.model import ForwardModel
from pytams.io import NetCDFStore

DISK_TARGET = 1.2
OVERHEAD_TARGET = 0.30


class Field(ForwardModel[np.ndarray, np.ndarray]):
    """A periodic 1-D stochastic heat equation on ``dim`` points, forced by ``modes`` modes.

    du = (nu u_xx - u) dt + sum_k B_k xi_k sqrt(dt), integrated with ``substeps`` explicit
    sub-steps per step; score: the mean of u over the first tenth of the domain.
    """

    def _setup(self, params: dict[str, Any]) -> None:
        self.dim = int(params.get("dim", 10_000))
        self.substeps = int(params.get("substeps", 4))
        modes = int(params.get("modes", 16))
        grid = np.arange(self.dim) / self.dim
        basis = [np.ones(self.dim)]
        for k in range(1, modes):
            basis.append(np.cos(2 * math.pi * ((k + 1) // 2) * grid + (k % 2) * math.pi / 2))
        self.forcing = np.array(basis) * 0.8
        self.nu = 0.2 / self.dim**2 * 1e4
        self.u = np.zeros(self.dim)
        self.window = max(1, self.dim // 10)

    def _advance(self, dt: float, noise: np.ndarray) -> float:
        u, h = self.u, dt / self.substeps
        for _ in range(self.substeps):
            laplacian = np.roll(u, 1) + np.roll(u, -1) - 2.0 * u
            u = u + h * (self.nu * self.dim**2 * 1e-4 * laplacian - u)
        self.u = u + math.sqrt(dt) * (noise @ self.forcing)
        return dt

    def _get_state(self) -> np.ndarray:
        copy: np.ndarray = self.u.copy()
        return copy

    def _set_state(self, state: np.ndarray) -> None:
        self.u = np.array(state, copy=True)

    def _score(self) -> float:
        return float(self.u[: self.window].mean())

    def _make_noise(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(size=(self.forcing.shape[0],))


def ou_config(n: int) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "seed": 3},
        "trajectory": {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0},
    }


def field_config(n: int, iterations: int, dim: int) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "seed": 3, "max_iterations": iterations},
        "trajectory": {
            "end_time": 1.0,
            "step_size": 0.01,
            "target_score": 10.0,
            "store_state_every": 10,
        },
        "model": {"dim": dim},
    }


def timed(
    model: type[Any], config: dict[str, Any], store: Any
) -> tuple[float, float, float, TAMSResult]:
    """Wall seconds, CPU seconds (every thread) and driver-thread CPU seconds of one run."""
    wall, cpu, driver = time.perf_counter(), time.process_time(), time.thread_time()
    result = TAMS(model, config, store=store).run()  # returns with every file on disk
    return (
        time.perf_counter() - wall,
        time.process_time() - cpu,
        time.thread_time() - driver,
        result,
    )


def compare(name: str, model: type[Any], config: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Best-of-``repeats`` run times in memory and on disk (interleaved); disk use."""
    memory_wall, memory_cpu, memory_driver, disk_wall, disk_cpu, disk_driver = (
        [] for _ in range(6)
    )
    root = Path(tempfile.mkdtemp(prefix="bench-io-"))
    try:
        TAMS(
            model,
            {**config, "tams": {**config["tams"], "max_iterations": 0}},
            store=NetCDFStore(root / "warm-up.tams"),
        ).run()  # imports netCDF4 once
        for repeat in range(repeats):
            wall, cpu, driver, memory_result = timed(model, config, MemoryStore())
            memory_wall.append(wall)
            memory_cpu.append(cpu)
            memory_driver.append(driver)
            path = root / f"run-{repeat}.tams"
            wall, cpu, driver, disk_result = timed(model, config, NetCDFStore(path))
            disk_wall.append(wall)
            disk_cpu.append(cpu)
            disk_driver.append(driver)
            if disk_result != memory_result:
                msg = f"{name}: the netCDF run differs from the memory run"
                raise SystemExit(msg)
        db = Database(NetCDFStore(path, read_only=True))
        stored_states = raw_bytes = 0
        for key in db.stored_keys():
            for state in db.trajectory(key).states:
                if state is not None:
                    stored_states += 1
                    raw_bytes += np.asarray(state).nbytes
        trajectory_bytes = sum(f.stat().st_size for f in (path / "trajectories").iterdir())
        total_bytes = trajectory_bytes + (path / "tams.nc").stat().st_size
        files = len(db.stored_keys()) + 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    memory, disk = min(memory_wall), min(disk_wall)
    return {
        "name": name,
        "memory": memory,
        "disk": disk,
        "overhead": disk / memory - 1.0,
        "cpu_overhead": min(disk_cpu) / min(memory_cpu) - 1.0,
        "driver_overhead": min(disk_driver) / min(memory_driver) - 1.0,
        "paired": statistics.median(d / m for d, m in zip(disk_wall, memory_wall, strict=True)) - 1,
        "files": files,
        "iterations": memory_result.iterations,
        "states": stored_states,
        "raw_per_state": raw_bytes / stored_states,
        "disk_per_state": total_bytes / stored_states,
        "disk_ratio": total_bytes / raw_bytes,
    }


def report(row: dict[str, Any], targets: bool) -> None:
    print(f"\n{row['name']}  ({row['iterations']} iterations, {row['files']} files)")
    per_file = 1e3 * (row["disk"] - row["memory"]) / row["files"]
    print(
        f"  run time   memory {row['memory']:.3f} s   netCDF {row['disk']:.3f} s   "
        f"overhead {100 * row['overhead']:+.0f}% wall   ({per_file:.1f} ms per file)"
    )
    print(
        f"  overhead   {100 * row['paired']:+.0f}% wall (median of the paired runs), "
        f"{100 * row['cpu_overhead']:+.0f}% CPU of all threads, "
        f"{100 * row['driver_overhead']:+.0f}% CPU of the driver thread (the rest is the "
        "background thread committing files to disk)"
    )
    print(
        f"  per state  raw {row['raw_per_state']:.0f} B   on disk {row['disk_per_state']:.0f} B"
        f"   ratio {row['disk_ratio']:.3f}x (all files: states, time, score, noise, metadata)"
    )
    missed = []
    if targets:
        if row["disk_ratio"] > DISK_TARGET:
            missed.append(f"disk {row['disk_ratio']:.2f}x raw > {DISK_TARGET}x")
        if row["overhead"] > OVERHEAD_TARGET:
            missed.append(f"overhead {100 * row['overhead']:.0f}% > {100 * OVERHEAD_TARGET:.0f}%")
        verdict = "MISSED: " + "; ".join(missed) if missed else "met"
        print(
            f"  targets (disk <= {DISK_TARGET}x, overhead <= {100 * OVERHEAD_TARGET:.0f}%): "
            f"{verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (best time)")
    parser.add_argument("--dim", type=int, default=10_000)
    parser.add_argument("--ntrajectories", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench_io: NetCDFStore vs MemoryStore, best of {args.repeats} (fsync on; "
        f"{os.cpu_count()} cpus, load average {load:.1f}: other work on the machine adds noise)"
    )
    report(
        compare(
            "1-D Ornstein-Uhlenbeck, every state stored",
            OU,
            ou_config(args.ntrajectories),
            args.repeats,
        ),
        targets=False,
    )
    report(
        compare(
            f"{args.dim}-d field, state every 10 steps",
            Field,
            field_config(args.ntrajectories, args.iterations, args.dim),
            args.repeats,
        ),
        targets=True,
    )


if __name__ == "__main__":
    main()
