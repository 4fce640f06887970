"""TAMS against Monte Carlo near p = 1e-4: model steps for the same relative error.

Case: the 1-D Ornstein-Uhlenbeck chain dX = -X dt + dW (Euler, dt = 0.01) from 0, event
max_{t <= 2} X >= 3.0: p = 1.12e-4 (exact for the chain, pytams.models.reference).

Measured in this run, both through the same sampler code (`[tams] sampler`):
- TAMS: K independent runs of N trajectories; the cost of one run (mean model steps) and
  its relative error (empirical standard deviation of the K estimates / p).
- Monte Carlo: M trajectories through ``sampler = "montecarlo"``; the cost of one
  trajectory (mean model steps: it stops at T or at the barrier). Its relative error with n
  trajectories is the binomial sqrt((1 - p) / (n p)), so the same relative error as one TAMS
  run needs n = (1 - p) / (p rel^2) trajectories: cost n * steps per trajectory.

Prints both costs and their ratio (and the wall-time ratio, from the measured seconds per
step of each sampler).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from pytams.core import TAMS

MODEL = "pytams.models:OrnsteinUhlenbeck"


def config(n: int, seed: int, **tams: object) -> dict[str, object]:
    return {
        "tams": {"ntrajectories": n, "seed": seed, **tams},
        "trajectory": {"end_time": 2.0, "step_size": 0.01, "target_score": 1.0},
        "model": {"class": MODEL, "dim": 1, "theta": 1.0, "sigma": 1.0, "barrier": 3.0},
    }


def exact_probability() -> float:
    from pytams.models.reference import euler_chain_probability

    return euler_chain_probability(lambda y: -y, 1.0, x0=0.0, barrier=3.0, end_time=2.0, dt=0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="K TAMS runs")
    parser.add_argument("--ntrajectories", type=int, default=100, help="N per TAMS run")
    parser.add_argument("--mc", type=int, default=2000, help="Monte Carlo trajectories")
    args = parser.parse_args()

    p = exact_probability()
    started = time.perf_counter()
    tams = TAMS(None, config(args.ntrajectories, 1, repeats=args.runs)).run()
    tams_seconds = time.perf_counter() - started
    estimates = np.array([r.probability for r in tams.repeats])
    steps = np.array([r.model_steps for r in tams.repeats], dtype=float)
    rel_tams = float(estimates.std(ddof=1)) / p
    reported = float(np.mean([r.std_error / r.probability for r in tams.repeats]))
    tams_cost = float(steps.mean())

    started = time.perf_counter()
    mc = TAMS(None, config(args.mc, 2, sampler="montecarlo")).run()
    mc_seconds = time.perf_counter() - started
    per_trajectory = mc.model_steps / args.mc
    needed = (1.0 - p) / (p * rel_tams**2)
    mc_cost = needed * per_trajectory

    print(f"case: OU, T = 2, dt = 0.01, barrier 3.0; exact p (Euler chain) = {p:.4e}")
    print(
        f"TAMS  N = {args.ntrajectories}, {args.runs} runs: mean p {estimates.mean():.4e} "
        f"(+- {estimates.std(ddof=1) / math.sqrt(args.runs):.1e}), relative error of one run "
        f"{rel_tams:.3f} (reported on average {reported:.3f}), cost {tams_cost:,.0f} steps/run, "
        f"{tams_seconds / steps.sum() * 1e6:.2f} us/step"
    )
    print(
        f"MC    {args.mc} trajectories measured: {per_trajectory:.1f} steps each, "
        f"{mc.converged} reached the barrier, {mc_seconds / mc.model_steps * 1e6:.2f} us/step"
    )
    print(
        f"MC    for relative error {rel_tams:.3f}: n = (1 - p) / (p rel^2) = {needed:,.0f} "
        f"trajectories, cost {mc_cost:,.0f} steps"
    )
    ratio = mc_cost / tams_cost
    time_ratio = (mc_cost * mc_seconds / mc.model_steps) / (tams_seconds / args.runs)
    spread = 1.0 / math.sqrt(2 * (args.runs - 1))  # relative uncertainty of rel_tams
    print(
        f"ratio Monte Carlo / TAMS model steps for the same relative error: {ratio:.1f} "
        f"(+- {2 * spread * ratio:.0f} from the K-run estimate of TAMS's error)"
    )
    print(f"ratio Monte Carlo / TAMS wall time for the same relative error:   {time_ratio:.1f}")


if __name__ == "__main__":
    main()
