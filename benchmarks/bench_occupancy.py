"""Occupancy benchmark: the speedup of W workers with k = 1 and with k = W kills per iteration.

Prints, measured in this run (lines prefixed ``[occupancy]``):
- the share of the model steps spent in iterations (the rest: the initial ensemble);
- a table of wall times of the same TAMS run (N = 32, a model whose step sleeps 2 ms, so a
  2-core machine runs 8 workers at once) with the asyncio runner at 1, 2, 4 and 8 workers,
  with k = 1 and with k = W, and the speedup over 1 worker of the same k (the result is the
  same whatever the number of workers, checked);
- the warning `pytams run` prints at run start for 8 workers and k = 1.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from ou_model import OU

from pytams.core import TAMS, MemoryStore, load_config
from pytams.core.loading import ModelSpec, load_model_class
from pytams.core.segment import RunContext, SegmentTask
from pytams.core.trajectory import TrajectoryKey
from pytams.runners import AsyncioRunner

STEP_SLEEP = 0.002  # seconds per model step, slept (not CPU work)
N = 32
WORKERS = (1, 2, 4, 8)
CLONES = 96  # kills per run: the iterations run about this many clones, whatever k


class SleepyOU(OU):
    """Ornstein-Uhlenbeck whose step sleeps ``sleep`` seconds: a model waiting on I/O or MPI."""

    def _setup(self, params: dict[str, Any]) -> None:
        super()._setup(params)
        self.sleep = float(params.get("sleep", 0.0))

    def _advance(self, dt: float, noise: float) -> float:
        time.sleep(self.sleep)
        return super()._advance(dt, noise)


def config(k: int, *, max_iterations: int | None = None, sleep: float = STEP_SLEEP) -> Any:
    return load_config(
        {
            "tams": {
                "ntrajectories": N,
                "kills_per_iteration": k,
                "seed": 11,
                "max_iterations": CLONES // k if max_iterations is None else max_iterations,
            },
            "trajectory": {"end_time": 1.0, "step_size": 0.05, "target_score": 1.0},
            "model": {"barrier": 4.0, "sleep": sleep},
        }
    )


class Collect(logging.Handler):
    """Keeps the messages of the run-start warnings (instead of printing them every run)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def timed_runs(
    reference: str, workers: int, ks: list[int], context: RunContext
) -> dict[int, tuple[float, Any]]:
    """The wall time and result of the run with each k in ``ks``, on one pool of ``workers``."""
    out = {}
    with AsyncioRunner(workers=workers) as runner:
        # start every worker process and import the model there, outside the timing
        list(runner.run(context, [SegmentTask(key=TrajectoryKey(s)) for s in range(2 * workers)]))
        for k in ks:
            started = time.perf_counter()
            result = TAMS(reference, config(k), runner=runner, store=MemoryStore()).run()
            out[k] = (time.perf_counter() - started, result)
    return out


def main() -> None:
    reference = f"{os.path.abspath(__file__)}:SleepyOU"  # workers re-import this file
    collect = Collect()
    logging.getLogger("pytams").addHandler(collect)
    context = RunContext(
        model=ModelSpec(load_model_class(reference), reference),
        model_params={"sleep": 0.0},
        tables={},
        trajectory=config(1).trajectory,
        seed=1,
    )
    initial = TAMS(reference, config(1, max_iterations=0, sleep=0.0), store=MemoryStore()).run()
    print(
        f"[occupancy] asyncio runner, N = {N}, a model step sleeps {STEP_SLEEP * 1e3:.0f} ms, "
        f"about {CLONES} clones per run ({os.cpu_count()} cores)"
    )
    times: dict[tuple[int, int], float] = {}
    results: dict[tuple[int, int], Any] = {}
    for workers in WORKERS:
        ks = list(WORKERS) if workers == 1 else sorted({1, workers})
        for k, (spent, result) in timed_runs(reference, workers, ks, context).items():
            times[workers, k], results[workers, k] = spent, result
    same = all(result == results[1, k] for (_, k), result in results.items())
    shares = {k: 1.0 - initial.model_steps / results[1, k].model_steps for k in WORKERS}
    print(
        "[occupancy] model steps in iterations: "
        + ", ".join(f"{shares[k]:.0%} (k = {k})" for k in WORKERS)
    )
    print(
        "[occupancy] workers | k = 1: wall time, speedup | k = workers: wall time, speedup "
        "(speedups over 1 worker with the same k)"
    )
    for workers in WORKERS:
        one = times[workers, 1]
        same_k = times[workers, workers]
        print(
            f"[occupancy] {workers:7d} | {one:6.2f} s {times[1, 1] / one:5.2f}x "
            f"| {same_k:6.2f} s {times[1, workers] / same_k:5.2f}x"
        )
    print(f"[occupancy] every worker count gave the result of 1 worker (same k): {same}")
    warned = [m for m in collect.messages if "workers = 8 " in m]
    if warned:
        print(f"[occupancy] the run-start warning (8 workers, k = 1): {warned[0]}")
    if not same:
        raise SystemExit("the number of workers changed the result")


if __name__ == "__main__":
    main()
