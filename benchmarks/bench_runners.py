"""Runner benchmark: per-task overhead, and the speedup of 2 workers over 1 (asyncio, dask).

Prints, measured in this run:
- the overhead per task in microseconds: wall time per task of trivial one-step tasks through
  each runner (1 worker, pool or cluster already started) minus the serial runner's;
- the wall time of one k = 1 iteration of a trivial model (one task a phase: a round trip to a
  worker is its floor) with the serial runner and asyncio and dask at 1 worker, best of 3,
  and each runner's ratio to asyncio's;
- a TAMS run of a model costing about 2 ms per step (busy work) with the serial runner and
  with asyncio and dask at 1 and 2 workers, the speedup of 2 workers over 1 for each (target
  1.7x on 2 free cores), and a check that every run gave the serial result.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ou_model import OU

from pytams.core import TAMS, MemoryStore, SerialRunner, load_config
from pytams.core.loading import load_model_class
from pytams.core.segment import RunContext, SegmentTask
from pytams.core.trajectory import TrajectoryKey
from pytams.runners import AsyncioRunner, DaskRunner

STEP_COST = 0.002  # seconds of CPU work per model step
OVERHEAD_TASKS = 200
K1_ITERATIONS = 60  # iterations timed per k = 1 run
K1_REPEATS = 3  # best of (the machine may be busy)


class BusyOU(OU):
    """Ornstein-Uhlenbeck with ``cost`` seconds of busy work per step."""

    def _setup(self, params: dict[str, Any]) -> None:
        super()._setup(params)
        self.cost = float(params.get("cost", 0.0))

    def _advance(self, dt: float, noise: float) -> float:
        until = time.thread_time() + self.cost  # CPU time: a real model's work
        while time.thread_time() < until:
            pass
        return super()._advance(dt, noise)


def config(cost: float, *, end_time: float = 1.0) -> Any:
    return load_config(
        {
            "tams": {"ntrajectories": 24, "kills_per_iteration": 4, "seed": 5, "max_iterations": 8},
            "trajectory": {"end_time": end_time, "step_size": 0.025, "target_score": 1.0},
            "model": {"cost": cost},
        }
    )


def busy(cost: float) -> float:
    until = time.thread_time() + cost
    while time.thread_time() < until:
        pass
    return cost


def machine_parallelism() -> float:
    """Speedup of 2 plain processes over 1 on busy work: what this machine offers right now."""
    import concurrent.futures as cf
    import multiprocessing

    spent = []
    for workers in (1, 2):
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(busy, [0.01] * 4))  # start the processes
            started = time.perf_counter()
            list(pool.map(busy, [0.05] * 16))
            spent.append(time.perf_counter() - started)
    return spent[0] / spent[1]


def overhead(runner: Any, context: RunContext) -> float:
    """Seconds per trivial task through ``runner`` (already entered)."""
    tasks = [SegmentTask(key=TrajectoryKey(slot)) for slot in range(OVERHEAD_TASKS)]
    list(runner.run(context, tasks[:20]))  # warm up (worker imports)
    started = time.perf_counter()
    done = sum(1 for _ in runner.run(context, tasks))
    assert done == OVERHEAD_TASKS
    return (time.perf_counter() - started) / OVERHEAD_TASKS


def per_iteration(runner: Any, reference: str) -> float:
    """Seconds per iteration of a k = 1 run of a trivial model (best of `K1_REPEATS` runs).

    Timed from the first iteration's report to the last one's: the initial ensemble is left
    out, so this is the driver's and the runner's cost of one phase of one task.
    """
    config = load_config(
        {
            "tams": {
                "ntrajectories": 16,
                "kills_per_iteration": 1,
                "seed": 3,
                "max_iterations": K1_ITERATIONS + 1,
            },
            "trajectory": {"end_time": 0.1, "step_size": 0.025, "target_score": 5.0},
            "model": {"cost": 0.0},
        }
    )
    best = float("inf")
    for _ in range(K1_REPEATS):
        stamps: list[float] = []

        def stamp(progress: Any) -> None:
            if progress.phase == "iteration":
                stamps.append(time.perf_counter())  # noqa: B023 - the list of this repeat

        TAMS(reference, config, runner=runner, store=MemoryStore(), progress=stamp).run()
        if len(stamps) < 2:
            raise SystemExit("the k = 1 run stopped before its second iteration")
        best = min(best, (stamps[-1] - stamps[0]) / (len(stamps) - 1))
    return best


def main() -> None:
    reference = f"{os.path.abspath(__file__)}:BusyOU"  # workers re-import this file
    spec_cls = load_model_class(reference)
    from pytams.core.loading import ModelSpec

    trivial = config(0.0, end_time=0.025)
    context = RunContext(
        model=ModelSpec(spec_cls, reference),
        model_params={},
        tables={},
        trajectory=trivial.trajectory,
        seed=1,
    )
    print(f"runner benchmark ({os.cpu_count()} cores)")
    ceiling = machine_parallelism()
    print(
        f"  control: 2 plain processes over 1 on busy work: {ceiling:4.2f}x "
        "(the most any runner can reach now; below 1.7x other sessions load the machine:\n"
        "  Linux autogroups share the CPU per session, whatever the number of our processes)"
    )
    factories: dict[str, Callable[[int], Any]] = {
        "serial": lambda w: SerialRunner(),
        "asyncio": lambda w: AsyncioRunner(workers=w),
        "dask": lambda w: DaskRunner(workers=w),
    }

    base = 0.0
    for name in ("serial", "asyncio", "dask"):
        started = time.perf_counter()
        with factories[name](1) as runner:
            startup = time.perf_counter() - started
            per_task = overhead(runner, context)
        if name == "serial":
            base = per_task
            print(f"  per task, serial (a 1-step task itself): {per_task * 1e6:9.1f} us")
        else:
            print(
                f"  per-task overhead, {name:7s} 1 worker: {(per_task - base) * 1e6:9.1f} us "
                f"(startup {startup:.2f} s)"
            )

    k1: dict[str, float] = {}
    for name in ("serial", "asyncio", "dask"):
        with factories[name](1) as runner:
            list(runner.run(context, [SegmentTask(key=TrajectoryKey(s)) for s in range(8)]))
            k1[name] = per_iteration(runner, reference)
    print(f"  one k = 1 iteration (trivial model, 1 worker, best of {K1_REPEATS}):")
    for name in ("serial", "asyncio", "dask"):
        print(
            f"    {name:7s} {k1[name] * 1e3:7.2f} ms   {k1[name] / k1['asyncio']:5.2f}x asyncio's"
        )

    costly = config(STEP_COST)
    times: dict[tuple[str, int], float] = {}
    results = {}
    for name, workers in (("serial", 1), ("asyncio", 1), ("asyncio", 2), ("dask", 1), ("dask", 2)):
        with factories[name](workers) as runner:
            # start every worker process and import the model there, outside the timing
            list(runner.run(context, [SegmentTask(key=TrajectoryKey(s)) for s in range(8)]))
            started = time.perf_counter()
            results[name, workers] = TAMS(
                reference, costly, runner=runner, store=MemoryStore()
            ).run()
            times[name, workers] = time.perf_counter() - started
    serial = results["serial", 1]
    steps = serial.model_steps
    print(
        f"  TAMS run, {steps} model steps of {STEP_COST * 1e3:.0f} ms "
        f"(N = 24, k = 4, {serial.iterations} iterations):"
    )
    print(f"    serial             {times['serial', 1]:6.2f} s")
    for name in ("asyncio", "dask"):
        one, two = times[name, 1], times[name, 2]
        print(
            f"    {name:7s} 1 worker   {one:6.2f} s   2 workers {two:6.2f} s   "
            f"speedup 2/1 {one / two:4.2f}x (target 1.7x)   vs serial "
            f"{times['serial', 1] / two:4.2f}x"
        )
    same = all(result == serial for result in results.values())
    print(f"  every runner gave the serial result: {same}")
    if not same:
        raise SystemExit("a parallel runner changed the result")


if __name__ == "__main__":
    main()
