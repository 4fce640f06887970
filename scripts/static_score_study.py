"""The static score on a deep Brownian event: a bias or heavy tails? (docs/theory.md).

Brownian motion ``dX = dW`` from 0, barrier ``b`` before ``T = 1``, ``dt = 0.01``, scored by
the static ``x / b`` (the case where 60 runs once gave z = -3.7). Every run is an independent
TAMS run (seed = its number) through the batched path, ``N`` trajectories, ``k`` kills per
iteration. Each finished run appends one line (seed, p_hat, iterations) to a CSV, so the study
can be run in chunks of seeds, in parallel processes, and stopped and resumed.

Usage (from the repository root)::

    python scripts/static_score_study.py run --seeds 1 16000 --jobs 2 --out study  # ~40 min
    python scripts/static_score_study.py report --out study                        # the figures

(the run of docs/theory.md; ``run`` may also be given chunks of seeds, one process each).

``report`` prints the pooled mean against the Euler chain's exact value, its standard error
and the smallest bias it detects (3 standard errors), the extinction fraction, quantiles of
p_hat / p, how much of the sum the largest 1% of runs carry, and, by resampling the measured
runs, how often a mean of 60 or 200 runs lands as low as the z values first seen.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from pytams.core import TAMS
from pytams.core.config import TrajectorySettings
from pytams.models.brownian import BrownianDrift

TRAJECTORY = {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0}


def config(seed: int, n: int, k: int, barrier: float) -> dict[str, object]:
    """The run of one seed."""
    return {
        "tams": {"ntrajectories": n, "kills_per_iteration": k, "seed": seed},
        "trajectory": TRAJECTORY,
        "model": {"mu": 0.0, "sigma": 1.0, "x0": 0.0, "barrier": barrier},
    }


def exact(barrier: float) -> float:
    """The Euler chain's probability (pytams.models.reference)."""
    params = {"mu": 0.0, "sigma": 1.0, "x0": 0.0, "barrier": barrier}
    trajectory = TrajectorySettings(end_time=1.0, step_size=0.01, target_score=1.0)
    return BrownianDrift.known_answer(params, trajectory).probability


def run_one(task: tuple[int, int, int, float]) -> tuple[int, float, int]:
    """One TAMS run: (seed, p_hat, iterations)."""
    seed, n, k, barrier = task
    result = TAMS(BrownianDrift, config(seed, n, k, barrier)).run()
    return seed, result.probability, result.iterations


def chunk_file(out: Path, n: int, k: int, barrier: float, first: int, last: int) -> Path:
    """The CSV of one chunk of seeds."""
    return out / f"static-N{n}-k{k}-b{barrier:g}-seeds{first}-{last}.csv"


def run(args: argparse.Namespace) -> None:
    """Run the seeds not yet in the chunk's CSV, appending as they finish."""
    args.out.mkdir(parents=True, exist_ok=True)
    first, last = args.seeds
    path = chunk_file(args.out, args.n, args.k, args.barrier, first, last)
    done = set()
    if path.exists():
        with path.open() as handle:
            done = {int(row["seed"]) for row in csv.DictReader(handle)}
    todo = [(s, args.n, args.k, args.barrier) for s in range(first, last + 1) if s not in done]
    started = time.perf_counter()
    new = not path.exists()
    with path.open("a", newline="") as handle, Pool(args.jobs) as pool:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["seed", "p_hat", "iterations"])
        for i, (seed, p_hat, iterations) in enumerate(pool.imap_unordered(run_one, todo), 1):
            writer.writerow([seed, repr(p_hat), iterations])
            handle.flush()
            if i % 100 == 0:
                rate = i / (time.perf_counter() - started)
                print(f"{i}/{len(todo)} runs, {rate:.2f} runs/s", flush=True)


def load(out: Path, n: int, k: int, barrier: float) -> np.ndarray:
    """Every p_hat of the case in the chunks under ``out``, by seed."""
    values: dict[int, float] = {}
    for path in sorted(out.glob(f"static-N{n}-k{k}-b{barrier:g}-seeds*.csv")):
        with path.open() as handle:
            values.update({int(r["seed"]): float(r["p_hat"]) for r in csv.DictReader(handle)})
    return np.array([values[s] for s in sorted(values)])


def low_mean_frequency(ratios: np.ndarray, runs: int, z: float, draws: int) -> float:
    """How often a mean of ``runs`` resampled runs has z <= ``z`` (its own standard error)."""
    rng = np.random.default_rng(0)
    sample = rng.choice(ratios, size=(draws, runs), replace=True)
    mean = sample.mean(axis=1)
    se = sample.std(axis=1, ddof=1) / math.sqrt(runs)
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = (mean - 1.0) / se
    return float(np.mean(zs <= z))


def report(args: argparse.Namespace) -> None:
    """Print the study's figures."""
    p = exact(args.barrier)
    ratios = load(args.out, args.n, args.k, args.barrier) / p
    runs = ratios.size
    mean = float(ratios.mean())
    rel_sd = float(ratios.std(ddof=1))
    se = rel_sd / math.sqrt(runs)
    print(f"case: N {args.n}, k {args.k}, barrier {args.barrier:g}: exact p {p:.6e}")
    print(f"runs {runs}: mean p_hat / p = {mean:.4f} +- {se:.4f} (z {(mean - 1) / se:+.2f})")
    print(
        f"relative sd of one run {rel_sd:.3f}; optimum sqrt(-ln p / N) "
        f"{math.sqrt(-math.log(p) / args.n):.3f}"
    )
    print(f"smallest bias detected at 3 standard errors: {3 * se:.1%}")
    print(f"extinct (p_hat = 0): {np.mean(ratios == 0):.2%}")
    quantiles = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999]
    print(
        "quantiles of p_hat / p: "
        + ", ".join(
            f"{q:g}: {v:.3f}"
            for q, v in zip(quantiles, np.quantile(ratios, quantiles), strict=True)
        )
    )
    print(f"below p: {np.mean(ratios < 1):.1%} of the runs")
    top = np.sort(ratios)[::-1]
    share = top[: max(1, runs // 100)].sum() / top.sum()
    print(f"the largest 1% of runs carry {share:.1%} of the sum; max p_hat / p {top[0]:.2f}")
    for sub, z in ((60, -3.7), (200, -2.7), (60, -3.0), (200, -3.0)):
        freq = low_mean_frequency(ratios, sub, z, 20_000)
        print(f"a mean of {sub} runs at z <= {z}: {freq:.2%} (resampled, 20,000 draws)")


def main() -> None:
    """Run a chunk of seeds, or report on every chunk."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "report"])
    parser.add_argument("--out", type=Path, default=Path("static-score-study"))
    parser.add_argument("--seeds", type=int, nargs=2, default=[1, 16_000])
    parser.add_argument("--n", type=int, default=100, help="N (100)")
    parser.add_argument("--k", type=int, default=10, help="kills per iteration (10)")
    parser.add_argument("--barrier", type=float, default=5.0, help="b (5)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (1)")
    args = parser.parse_args()
    run(args) if args.action == "run" else report(args)


if __name__ == "__main__":
    main()
