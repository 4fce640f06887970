"""The learned score on the triple well: variance against the naive score and the optimum.

The case (docs/tutorial-learned-score.md): `pytams.models.triple_well.TripleWell`,
beta = 4, from the well at (-1, 0) into the disc of radius 0.15 around (1, 0) before T = 2,
dt = 0.01, the model's own distance score ("naive"). p is near 1e-4, and it has no closed
form: the reference is a brute-force Monte Carlo of the same Euler chain.

Usage (from the repository root)::

    python scripts/learned_score_triple_well.py reference --chunks 10 --out tw  # 2 min each
    python scripts/learned_score_triple_well.py study --runs 200 --out tw       # ~25 min
    python scripts/learned_score_triple_well.py committor --runs 60 --out tw    # ~9 min
    python scripts/learned_score_triple_well.py report --out tw

``reference`` appends chunks of 2 x 10^6 paths (seeds 1000, 1001, ...) to
``tw/reference.jsonl``. ``study`` fits the learned score (logistic of ``--degree``, 4 by
default, on the default features x, y, t/T) from ``--training`` runs with the naive score (25
by default; N = 100, k = 10, seeds 100001, 100002, ...), then makes ``runs`` runs with each
score (N = 100, k = 1, seeds 1, 2, ...), and the score diagnostics of `pytams.core.diagnostics`
over the first 20 of each; it writes ``tw/study.json``. ``report`` prints the figures of the
docs: each score's mean against the reference (z), the relative standard deviation of one run
with a bootstrap interval, its ratio to the optimum sqrt(-ln p / N), the naive-to-learned
ratio, and the diagnostics.

``committor`` answers "how good can a score be here": it solves the Euler chain's committor
q(x, t) backwards on a grid (spacing 0.02, a 7 x 7 Gauss-Hermite average of the next step,
bilinear interpolation; q(A, 0) from the grid is printed against the reference), uses it as
the score of ``runs`` runs (seeds 1, 2, ...) through the learned-score wrapper, and adds them
to ``tw/study.json`` as a third score. Not learned: it knows the dynamics.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates

from pytams.core import TAMS
from pytams.core.curve import RunHistory
from pytams.core.diagnostics import diagnose_repeats
from pytams.core.learned import LearnedScore, fit_learned_score
from pytams.models.triple_well import gradient

BETA, END_TIME, STEP, RADIUS, N = 4.0, 2.0, 0.01, 0.15, 100
CHUNK = 2_000_000
FIRST_TRAINING_SEED = 100_001
DIAGNOSED = 20
# the committor's grid: x and y bounds, spacing, Gauss-Hermite points per axis
GRID_X, GRID_Y, GRID_STEP, GAUSS_POINTS = (-2.4, 2.4), (-1.8, 2.8), 0.02, 7


def config(seed: int, k: int = 1, score: str | None = None) -> dict[str, Any]:
    """One run of the case (the naive score, or ``score``)."""
    trajectory: dict[str, Any] = {"end_time": END_TIME, "step_size": STEP, "target_score": 1.0}
    if score is not None:
        trajectory["score"] = score
    return {
        "tams": {"ntrajectories": N, "kills_per_iteration": k, "seed": seed},
        "trajectory": trajectory,
        "model": {"class": "pytams.models.triple_well:TripleWell", "beta": BETA},
    }


def in_target(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether each point (x, y) is in the target disc (radius RADIUS around B = (1, 0))."""
    inside: np.ndarray = (x - 1.0) ** 2 + y**2 <= RADIUS**2
    return inside


def brute_force(paths: int, seed: int) -> int:
    """Paths of the Euler chain (the model's step) that enter the disc before T."""
    rng = np.random.default_rng(seed)
    scale = math.sqrt(2.0 / BETA * STEP)
    x, y = np.full(paths, -1.0), np.zeros(paths)
    hit = np.zeros(paths, dtype=bool)
    hits, steps = 0, round(END_TIME / STEP)
    for step in range(steps):
        gx, gy = gradient(x, y)
        x = x - gx * STEP + scale * rng.standard_normal(x.size)
        y = y - gy * STEP + scale * rng.standard_normal(y.size)
        hit |= in_target(x, y)
        if step % 20 == 19 or step == steps - 1:
            hits += int(hit.sum())
            x, y, hit = x[~hit], y[~hit], hit[~hit]
    return hits


def reference(out: Path, chunks: int) -> None:
    """Append ``chunks`` chunks of brute force to ``out/reference.jsonl``."""
    path = out / "reference.jsonl"
    done = len(path.read_text().splitlines()) if path.exists() else 0
    for seed in range(1000 + done, 1000 + done + chunks):
        started = time.perf_counter()
        hits = brute_force(CHUNK, seed)
        line = {
            "seed": seed,
            "paths": CHUNK,
            "hits": hits,
            "seconds": time.perf_counter() - started,
        }
        with path.open("a") as stream:
            stream.write(json.dumps(line) + "\n")
        print(line, flush=True)


def runs(seeds: range, score: str | None) -> tuple[list[float], list[int], float, Any]:
    """The estimates and model steps of one run per seed, their wall time, the diagnostics."""
    estimates: list[float] = []
    steps: list[int] = []
    histories: list[RunHistory] = []
    started = time.perf_counter()
    for seed in seeds:
        result = TAMS(None, config(seed, score=score)).run()
        estimates.append(result.probability)
        steps.append(result.model_steps)
        if len(histories) < DIAGNOSED:
            histories.append(result.history())
    wall = time.perf_counter() - started
    diagnostics = diagnose_repeats(estimates[:DIAGNOSED], ntrajectories=N, histories=histories)
    return estimates, steps, wall, diagnostics.to_dict()


def study(out: Path, count: int, degree: int, training_runs: int) -> None:
    """Fit the learned score, run both scores, write ``out/study.json``."""
    training_seeds = range(FIRST_TRAINING_SEED, FIRST_TRAINING_SEED + training_runs)
    training = [TAMS(None, config(seed, k=10)).run().database for seed in training_seeds]
    score_file = out / "learned-score.npz"
    fit_learned_score(training, degree=degree).save(score_file)
    print(f"fitted degree {degree} from {training_runs} runs", flush=True)
    seeds = range(1, count + 1)
    record: dict[str, Any] = {
        "seeds": [seeds.start, seeds.stop - 1],
        "degree": degree,
        "training_runs": training_runs,
    }
    for name, score in [("naive", None), ("learned", f"learned:{score_file.resolve()}")]:
        estimates, steps, wall, diagnostics = runs(seeds, score)
        record[name] = {
            "estimates": estimates,
            "model_steps": steps,
            "wall": wall,
            "diagnostics": diagnostics,
        }
        print(name, f"{wall:.0f} s", flush=True)
    (out / "study.json").write_text(json.dumps(record))


class GridCommittor:
    """q(x, y, t) from a grid (steps + 1, nx, ny), interpolated; features x, y, t / T."""

    def __init__(self, q: np.ndarray) -> None:
        self.q = q

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """The committor of each row (x, y, t / T)."""
        f = np.asarray(features, dtype=np.float64).reshape(-1, 3)
        coordinates = [
            f[:, 2] * END_TIME / STEP,
            (f[:, 0] - GRID_X[0]) / GRID_STEP,
            (f[:, 1] - GRID_Y[0]) / GRID_STEP,
        ]
        q: np.ndarray = np.asarray(map_coordinates(self.q, coordinates, order=1, mode="nearest"))
        clipped: np.ndarray = np.clip(q, 0.0, 1.0)
        return clipped


def solve_committor() -> np.ndarray:
    """The Euler chain's committor on the grid, step by step back from T (q = 0 at T)."""
    xs = np.arange(GRID_X[0], GRID_X[1] + GRID_STEP / 2, GRID_STEP)
    ys = np.arange(GRID_Y[0], GRID_Y[1] + GRID_STEP / 2, GRID_STEP)
    x, y = np.meshgrid(xs, ys, indexing="ij")
    gx, gy = gradient(x, y)
    mean_x, mean_y = x - gx * STEP, y - gy * STEP
    sigma = math.sqrt(2.0 / BETA * STEP)
    nodes, weights = np.polynomial.hermite_e.hermegauss(GAUSS_POINTS)
    weights = weights / weights.sum()
    points = []  # (weight, grid coordinates of the next state, whether it is in the disc)
    for a, wa in zip(nodes, weights, strict=True):
        for b, wb in zip(nodes, weights, strict=True):
            px, py = mean_x + sigma * a, mean_y + sigma * b
            inside = in_target(px, py).astype(np.float64)
            where = np.array([(px - GRID_X[0]) / GRID_STEP, (py - GRID_Y[0]) / GRID_STEP])
            points.append((wa * wb, where, inside))
    steps = round(END_TIME / STEP)
    q = np.zeros((steps + 1, *x.shape))
    for n in range(steps - 1, -1, -1):
        for weight, where, inside in points:
            later = map_coordinates(q[n + 1], where, order=1, mode="nearest")
            q[n] += weight * (inside + (1.0 - inside) * later)
    return q


def committor(out: Path, count: int) -> None:
    """Solve the committor, run ``count`` runs with it as the score, add them to study.json."""
    started = time.perf_counter()
    q = solve_committor()
    at_a = GridCommittor(q).predict_proba(np.array([[-1.0, 0.0, 0.0]]))[0]
    print(f"committor solved in {time.perf_counter() - started:.0f} s: q(A, 0) = {at_a:.4e}")
    score_file = out / "committor-score.npz"
    LearnedScore(method="plugin", n_features=3, estimator=GridCommittor(q)).save(score_file)
    estimates, steps, wall, diagnostics = runs(
        range(1, count + 1), f"learned:{score_file.resolve()}"
    )
    path = out / "study.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    record["committor"] = {
        "estimates": estimates,
        "model_steps": steps,
        "wall": wall,
        "diagnostics": diagnostics,
        "q_at_start": at_a,
    }
    path.write_text(json.dumps(record))
    print("committor", f"{wall:.0f} s", flush=True)


def relative_sd(values: np.ndarray) -> float:
    """The relative standard deviation of one run's estimate."""
    return float(values.std(ddof=1) / values.mean())


def report(out: Path) -> None:
    """Print the figures of docs/learned-score.md."""
    chunks = [json.loads(line) for line in (out / "reference.jsonl").read_text().splitlines()]
    paths = sum(c["paths"] for c in chunks)
    p = sum(c["hits"] for c in chunks) / paths
    p_se = math.sqrt(p * (1 - p) / paths)
    print(f"reference: p = {p:.4e} +- {p_se:.1e} ({paths:,} paths, brute force)")
    record = json.loads((out / "study.json").read_text())
    print(
        f"learned: logistic of degree {record.get('degree', 2)} from "
        f"{record.get('training_runs', 5)} naive runs"
    )
    optimum = math.sqrt(-math.log(p) / N)
    rng = np.random.default_rng(0)
    sds = {}
    for name in ("naive", "learned", "committor"):
        if name not in record:
            continue
        values = np.array(record[name]["estimates"])
        sd = relative_sd(values)
        boot = [relative_sd(rng.choice(values, values.size)) for _ in range(2_000)]
        low, high = np.percentile(boot, [2.5, 97.5])
        se = values.std(ddof=1) / math.sqrt(values.size)
        z = (values.mean() - p) / math.hypot(se, p_se)
        steps = np.mean(record[name]["model_steps"])
        wall = record[name]["wall"] / values.size
        sds[name] = (sd, np.array(boot))
        diag = record[name]["diagnostics"]
        variance, crossing = diag["variance"], diag["crossing"]
        print(
            f"{name:8s} {values.size} runs: mean {values.mean():.4e} (z = {z:+.2f}); relative sd "
            f"of one run {sd:.3f} [{low:.3f}, {high:.3f}], {sd / optimum:.2f}x the optimum "
            f"{optimum:.3f}; {steps:,.0f} model steps and "
            f"{wall:.2f} s per run; extinct {int((values == 0).sum())}"
        )
        print(
            f"         diagnostics over {DIAGNOSED} runs: variance ratio {variance['ratio']:.2f}, "
            f"crossing check {crossing['rms_log_ratio']:.2f} (noise {crossing['noise']:.2f})"
        )
        if name == "committor":  # fewer runs: the naive score's relative sd on the same seeds
            naive = np.array(record["naive"]["estimates"][: values.size])
            print(
                f"         the naive score on the same {values.size} seeds: relative sd "
                f"{relative_sd(naive):.3f}, {relative_sd(naive) / sd:.2f}x the committor's; "
                f"q(A, 0) on the grid {record[name]['q_at_start']:.4e}"
            )
    if "learned" not in sds:
        return
    ratio = sds["naive"][0] / sds["learned"][0]
    low, high = np.percentile(sds["naive"][1] / sds["learned"][1], [2.5, 97.5])
    print(f"naive / learned relative sd: {ratio:.2f} [{low:.2f}, {high:.2f}]")


def main() -> None:
    """The command line (see the module)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["reference", "study", "committor", "report"])
    parser.add_argument("--out", type=Path, default=Path("triple-well-study"))
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--degree", type=int, default=4, help="study: the logistic's degree")
    parser.add_argument("--training", type=int, default=25, help="study: naive runs to fit on")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.action == "reference":
        reference(args.out, args.chunks)
    elif args.action == "study":
        study(args.out, args.runs, args.degree, args.training)
    elif args.action == "committor":
        committor(args.out, args.runs)
    else:
        report(args.out)


if __name__ == "__main__":
    main()
