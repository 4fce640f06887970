"""Framework cost per model step, against a bare loop calling the same hooks; memory per snapshot.

Prints figures and their ratio, measured in the same run (never asserted in unit tests:
machines are shared and noisy). Target: framework / bare loop <= 1.5.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Any

from ou_model import OU

from pytams.core import TAMS, MemoryStore, TrajectoryKey
from pytams.core.rng import segment_generator


def config(n: int, steps: int) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "seed": 1, "max_iterations": 0},
        "trajectory": {"end_time": steps * 0.01, "step_size": 0.01, "target_score": 1e9},
    }


def framework(n: int, steps: int) -> tuple[float, int]:
    """Seconds and model steps for an initial ensemble run by TAMS."""
    started = time.perf_counter()
    result = TAMS(OU, config(n, steps)).run()
    return time.perf_counter() - started, result.model_steps


def bare_loop(n: int, steps: int) -> tuple[float, int]:
    """The same trajectories with the model hooks called directly, a tuple kept per step.

    Every trajectory's tuples stay alive, as the framework's store keeps every trajectory.
    """
    started = time.perf_counter()
    total = 0
    ensemble = []
    dt, target = 0.01, 1e9
    for slot in range(n):
        model = OU({})
        rng = segment_generator(1, 0, slot, 0)
        t = 0.0
        kept: list[tuple[float, float, Any, float]] = [
            (t, model._score(), None, model._get_state())
        ]
        for _ in range(steps):
            noise = model._make_noise(rng)
            t += model._advance(dt, noise)
            score = model._score()
            kept.append((t, score, noise, model._get_state()))
            total += 1
            if score >= target:
                break
        ensemble.append(kept)
    return time.perf_counter() - started, total


def best_of(repeats: int, fn: Any, *args: Any) -> tuple[float, int]:
    runs: list[tuple[float, int]] = [fn(*args) for _ in range(repeats)]
    return min(runs)


def memory_per_snapshot(n: int, steps: int) -> float:
    gc.collect()
    tracemalloc.start()
    store = MemoryStore()
    TAMS(OU, config(n, steps), store=store).run()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    snapshots = sum(len(store.read_trajectory(TrajectoryKey(s))) for s in range(n))
    return current / snapshots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trajectories", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, steps = args.trajectories, args.steps
    bare_time, bare_steps = best_of(args.repeats, bare_loop, n, steps)
    ours_time, ours_steps = best_of(args.repeats, framework, n, steps)
    assert bare_steps == ours_steps, (bare_steps, ours_steps)
    bare_us, ours_us = 1e6 * bare_time / bare_steps, 1e6 * ours_time / ours_steps
    ratio = ours_us / bare_us
    print(f"[core] 1-D OU, {n} trajectories x {steps} steps (best of {args.repeats})")
    print(f"[core] bare loop over the model hooks : {bare_us:8.3f} us/step")
    print(f"[core] pytams framework (SerialRunner): {ours_us:8.3f} us/step")
    print(
        f"[core] framework / bare ratio         : {ratio:8.3f}  (target <= 1.5: "
        f"{'met' if ratio <= 1.5 else 'MISSED'})"
    )
    print(
        f"[core] memory per stored snapshot     : {memory_per_snapshot(n, steps):8.1f} bytes "
        "(time, score, noise and a float state)"
    )


if __name__ == "__main__":
    main()
