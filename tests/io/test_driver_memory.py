"""The driver's memory does not grow with the model's state (issue 14, point 3).

A run of a model whose state is 10^6 doubles (8 MB) stored every 10 steps writes more than
1 GB of states with two dask workers; its driver's peak RSS grows by no more than the same
run's with 1,000-double states plus `ALLOWANCE`. The bound, derived: with workers storing
their trajectories, no state reaches the driver, so only what does not depend on the state
size remains (the dask client, the netCDF library's buffers, the run's bookkeeping: the
small-state run measures it); `ALLOWANCE` is one trajectory (two 8 MB states), for a
transient copy. A driver that held the states written (1.2 GB), the ensemble's (16 x 16 MB)
or its store's cache (32 MiB here) full of them fails.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.io.ou import HERE

MODEL = f"{HERE / 'big_state.py'}:BigStateOU"
STATE_BYTES = 8 * 10**6
ALLOWANCE = 2 * STATE_BYTES  # one trajectory: its two stored states
CACHE_BYTES = 32 * 2**20


def config(runner: dict[str, Any], size: int) -> dict[str, Any]:
    return {
        "model": {"size": size},
        "tams": {"ntrajectories": 16, "kills_per_iteration": 2, "seed": 3, "max_iterations": 50},
        "trajectory": {
            "end_time": 1.0,
            "step_size": 0.1,
            "target_score": 1.0,
            "store_state_every": 10,
        },
        "runner": runner,
    }


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


def measured_run(path: str, runner: dict[str, Any], size: int) -> dict[str, Any]:
    """Run in a fresh process; the result, the driver's peak RSS growth and the bytes stored."""
    import distributed  # noqa: F401  (imported before the measurement, as a driver has it)
    import netCDF4  # noqa: F401

    from pytams.core import TAMS
    from pytams.io import NetCDFStore

    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from here
    before = _status("VmRSS:")
    started = time.perf_counter()
    store = NetCDFStore(path, cache_bytes=CACHE_BYTES)
    result = TAMS(MODEL, config(runner, size), store=store).run()
    return {
        "result": (result.probability, result.levels, result.weights, result.model_steps),
        "growth": _status("VmHWM:") - before,
        "stored": sum(p.stat().st_size for p in Path(path).rglob("*.nc")),
        "seconds": time.perf_counter() - started,
    }


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")
def test_the_driver_memory_does_not_grow_with_the_state(tmp_path: Path) -> None:
    dask = {"type": "dask", "workers": 2}
    spawn = multiprocessing.get_context("spawn")
    runs = {}
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("large", dask, 1_000_000),
        ("small", dask, 1_000),
        ("serial", {"type": "serial"}, 1_000_000),
    ]
    for name, runner, size in cases:
        with ProcessPoolExecutor(1, mp_context=spawn) as fresh:
            path = str(tmp_path / f"{name}.tams")
            runs[name] = fresh.submit(measured_run, path, runner, size).result()
    large, small = runs["large"], runs["small"]
    print({name: {k: v for k, v in run.items() if k != "result"} for name, run in runs.items()})
    assert large["stored"] >= 10**9  # at least 1 GB of states written
    assert large["result"] == runs["serial"]["result"]
    assert large["growth"] <= small["growth"] + ALLOWANCE, (large["growth"], small["growth"])
