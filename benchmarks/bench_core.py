"""Whole TAMS runs against the same run written by hand; memory per stored snapshot.

A whole run (the initial ensemble and every iteration to the target, what users pay for) of a
1-D OU through pytams (serial, in memory), against a hand-written TAMS loop doing the same
work: the same segments and steps (one model and one generator per segment, the model's hooks
called directly, a tuple kept per step, a clone copying its parent's prefix), the same
selection, the same result bit for bit (asserted). Twice: a native `ForwardModel` and the same
model written against the original pyTAMS API. Figures are CPU time per model step, best of
``--repeats``, measured in the same run (never asserted in unit tests: machines are shared and
noisy). Targets: framework / hand-written <= 1.5 (native), <= 2 (pyTAMS API).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ou_model import OU, OUPyTAMS

from pytams.core import TAMS, MemoryStore, TrajectoryKey
from pytams.core.rng import segment_generator, segment_model_id, selection_generator
from pytams.core.selection import select

Snapshot = tuple[float, float, Any, Any]  # time, score, noise, state


@dataclass(frozen=True)
class Case:
    """One TAMS run: N, k, the horizon, dt, the barrier (target score 1) and the seed."""

    n: int = 100
    k: int = 1
    end_time: float = 1.0
    dt: float = 0.01
    barrier: float = 2.7
    seed: int = 1

    def config(self) -> dict[str, Any]:
        return {
            "tams": {"ntrajectories": self.n, "kills_per_iteration": self.k, "seed": self.seed},
            "trajectory": {"end_time": self.end_time, "step_size": self.dt, "target_score": 1.0},
            "model": {"barrier": self.barrier},
        }


@dataclass
class Outcome:
    """CPU seconds, model steps and the estimate of one run."""

    seconds: float
    steps: int
    probability: float


def framework(case: Case, model: type[Any]) -> Outcome:
    """The run through pytams."""
    started = time.process_time()
    result = TAMS(model, case.config()).run()
    return Outcome(time.process_time() - started, result.model_steps, result.probability)


def native_segment(
    case: Case, slot: int, generation: int, prefix: list[Snapshot]
) -> list[Snapshot]:
    """One segment of the native model, from the last snapshot of ``prefix`` (empty: t = 0)."""
    model = OU({"barrier": case.barrier})
    rng = segment_generator(case.seed, 0, slot, generation)
    if prefix:
        t, score, _, state = prefix[-1]
        model._set_state(state)
        kept = prefix[:]
    else:
        t, score = 0.0, model._score()
        kept = [(t, score, None, model._get_state())]
    while score < 1.0 and case.end_time - t > 1e-9 * case.dt:
        dt = min(case.dt, case.end_time - t)
        noise = model._make_noise(rng)
        t += model._advance(dt, noise)
        score = model._score()
        kept.append((t, score, noise, model._get_state()))
    return kept


def pytams_segment(
    case: Case, slot: int, generation: int, prefix: list[Snapshot]
) -> list[Snapshot]:
    """One segment of the pyTAMS-API model, driven as pyTAMS drives it."""
    params = {"model": {"barrier": case.barrier}, "tams": {"deterministic": True}}
    model = OUPyTAMS(segment_model_id(case.seed, 0, slot, generation), params)
    if prefix:
        t, score, _, state = prefix[-1]
        model.set_current_state(state)
        model.post_trajectory_branching_hook(len(prefix) - 1, t)
        kept = prefix[:]
    else:
        t, score = 0.0, model.score()
        kept = [(t, score, None, model.get_current_state())]
    while score < 1.0 and case.end_time - t > 1e-9 * case.dt:
        dt = min(case.dt, case.end_time - t)
        noise = model.make_noise()
        model.set_noise(noise)
        t += model.advance(dt)
        score = model.score()
        kept.append((t, score, noise, model.get_current_state()))
    return kept


Segment = Callable[[Case, int, int, list[Snapshot]], list[Snapshot]]


def by_hand(case: Case, segment: Segment) -> Outcome:
    """The whole run written by hand: TAMS with lists, the same streams and selection.

    Killed trajectories are kept (as the framework's store keeps them: a run's history).
    """
    started = time.process_time()
    ensemble = [segment(case, slot, 0, []) for slot in range(case.n)]
    archive = []
    steps = sum(len(t) - 1 for t in ensemble)
    generations = [0] * case.n
    maxima = [max(s for _, s, _, _ in t) for t in ensemble]
    weight, iteration = 1.0, 0
    while True:
        chosen = select(maxima, case.k, selection_generator(case.seed, 0, iteration))
        if chosen.level >= 1.0 or chosen.extinct:
            break
        for slot, parent in zip(chosen.killed, chosen.parents, strict=True):
            scores = [s for _, s, _, _ in ensemble[parent]]
            branch = next(i for i, s in enumerate(scores) if s > chosen.level)
            generations[slot] += 1
            clone = segment(case, slot, generations[slot], ensemble[parent][: branch + 1])
            steps += len(clone) - 1 - branch
            archive.append(ensemble[slot])
            ensemble[slot] = clone
            maxima[slot] = max(s for _, s, _, _ in clone)
        weight *= 1.0 - len(chosen.killed) / case.n
        iteration += 1
    converged = sum(t[-1][1] >= 1.0 for t in ensemble)
    probability = 0.0 if chosen.extinct else weight * converged / case.n
    return Outcome(time.process_time() - started, steps, probability)


def best_of(repeats: int, *runs: Callable[[], Outcome]) -> list[Outcome]:
    """The fastest of ``repeats`` calls of each run.

    The runs are interleaved: a load that changes during the benchmark weighs on all alike.
    """
    outcomes = [[run() for run in runs] for _ in range(repeats)]
    columns = zip(*outcomes, strict=True)
    return [min(column, key=lambda outcome: outcome.seconds) for column in columns]


def compare(
    label: str, case: Case, repeats: int, target: float, model: type[Any], segment: Segment
) -> None:
    """Print the framework's and the hand-written run's cost per step, and their ratio."""
    hand, ours = best_of(repeats, lambda: by_hand(case, segment), lambda: framework(case, model))
    assert (hand.steps, hand.probability) == (ours.steps, ours.probability), (hand, ours)
    hand_us, ours_us = 1e6 * hand.seconds / hand.steps, 1e6 * ours.seconds / ours.steps
    ratio = ours_us / hand_us
    verdict = "met" if ratio <= target else "MISSED"
    print(f"[core] {label}: by hand {hand_us:6.3f} us/step, pytams {ours_us:6.3f} us/step")
    print(f"[core] {label}: pytams / by hand {ratio:6.2f}x (target <= {target}: {verdict})")


def memory_per_snapshot(n: int, steps: int) -> float:
    """Traced bytes per stored snapshot of an initial ensemble kept in memory."""
    config = Case(n=n, end_time=steps * 0.01, barrier=1e9).config()
    config["tams"]["max_iterations"] = 0
    gc.collect()
    tracemalloc.start()
    store = MemoryStore()
    TAMS(OU, config, store=store).run()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    snapshots = sum(len(store.read_trajectory(TrajectoryKey(s))) for s in range(n))
    return current / snapshots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trajectories", type=int, default=100)
    parser.add_argument("--kills", type=int, default=1)
    parser.add_argument("--barrier", type=float, default=2.7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    case = Case(n=args.trajectories, k=args.kills, barrier=args.barrier)
    probe = framework(case, OU)
    print(
        f"[core] whole runs, 1-D OU to x = {case.barrier} by T = {case.end_time} "
        f"(p = {probe.probability:.3g}), N = {case.n}, k = {case.k}, dt = {case.dt}, "
        f"{probe.steps} model steps, serial, in memory; CPU time, best of {args.repeats}"
    )
    compare("native model   ", case, args.repeats, 1.5, OU, native_segment)
    compare("pyTAMS-API model", case, args.repeats, 2.0, OUPyTAMS, pytams_segment)
    print(
        f"[core] memory per stored snapshot: {memory_per_snapshot(1000, 200):8.1f} bytes "
        "(time, score, noise and a float state)"
    )


if __name__ == "__main__":
    main()
