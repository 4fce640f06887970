"""The 1-D reference solver against closed forms, quadrature and brute-force Monte Carlo."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from pytams.models.double_well import drift_1d
from pytams.models.reference import (
    brownian_probability,
    continuous_probability,
    euler_chain_probability,
)

TABLE = Path(__file__).parents[1] / "data" / "brownian.csv"
SCRIPT = Path(__file__).parents[2] / "scripts" / "reference_tables.py"


def rows() -> list[dict[str, float]]:
    with TABLE.open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.parametrize("row", rows(), ids=lambda r: f"mu{r['mu']}-b{r['barrier']}")
def test_continuous_solver_matches_the_closed_form(row: dict[str, float]) -> None:
    closed = brownian_probability(row["mu"], row["sigma"], row["x0"], row["barrier"], row["T"])
    assert closed == pytest.approx(row["p_continuous"], rel=1e-8)
    solved = continuous_probability(
        row["mu"], row["sigma"], x0=row["x0"], barrier=row["barrier"], end_time=row["T"]
    )
    assert solved == pytest.approx(closed, rel=1e-6, abs=0.0)


@pytest.mark.parametrize("row", rows(), ids=lambda r: f"mu{r['mu']}-b{r['barrier']}")
def test_euler_chain_solver_matches_the_table(row: dict[str, float]) -> None:
    """Agreement within the table's stated error (scripts/reference_tables.py writes both)."""
    solved = euler_chain_probability(
        row["mu"],
        row["sigma"],
        x0=row["x0"],
        barrier=row["barrier"],
        end_time=row["T"],
        dt=row["dt"],
    )
    assert solved == pytest.approx(row["p_euler"], rel=0.0, abs=row["p_euler_abs_error"])


def test_the_script_checks_a_cheap_row_of_the_table() -> None:
    """``scripts/reference_tables.py --check`` on one row (mu = -1, barrier 3): exit 0."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--no-others", "--rows", "5"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "b=3" in done.stdout


def test_the_script_reports_a_wrong_table(tmp_path: Path) -> None:
    """A value moved by 3 stated errors fails the check with a clear message."""
    lines = TABLE.read_text().splitlines()
    fields = lines[6].split(",")  # mu = -1, barrier 3: row 5
    fields[7] = repr(float(fields[7]) + 3.0 * float(fields[8]) + 1e-12)
    lines[6] = ",".join(fields)
    wrong = tmp_path / "brownian.csv"
    wrong.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--check",
            "--no-others",
            "--rows",
            "5",
            "--table",
            str(wrong),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "DISAGREEMENT" in done.stderr
    assert "stated error" in done.stderr


def test_euler_chain_solver_matches_nested_quadrature() -> None:
    """Three steps of a Brownian chain by nested adaptive quadrature: agreement to 1e-9."""
    s, barrier = 0.1, 0.25

    def miss_two(x: float) -> float:  # P(X_1 < B, X_2 < B | X_0 = x)
        return float(
            quad(
                lambda y: norm.pdf(y, x, s) * norm.cdf((barrier - y) / s),
                x - 2.0,
                barrier,
                epsabs=1e-15,
                epsrel=1e-13,
            )[0]
        )

    exact = (
        1.0
        - quad(
            lambda y: norm.pdf(y, 0.0, s) * miss_two(y), -1.5, barrier, epsabs=1e-14, epsrel=1e-12
        )[0]
    )
    solved = euler_chain_probability(
        0.0, 1.0, x0=0.0, barrier=barrier, end_time=0.03, dt=0.01, lower=-2.0
    )
    assert solved == pytest.approx(exact, rel=1e-9)


def test_barrier_at_or_below_the_start_gives_one() -> None:
    assert euler_chain_probability(0.0, 1.0, x0=1.0, barrier=1.0, end_time=1.0, dt=0.1) == 1.0
    assert continuous_probability(0.0, 1.0, x0=2.0, barrier=1.0, end_time=1.0) == 1.0


def test_a_lower_cutoff_above_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="lower"):
        euler_chain_probability(0.0, 1.0, x0=0.0, barrier=1.0, end_time=1.0, dt=0.1, lower=0.5)


@pytest.mark.slow
def test_double_well_reference_matches_brute_force_monte_carlo() -> None:
    """1-D double well, eps = 0.05, T = 10, dt = 0.01: p near 7e-3, 2e5 vectorised paths."""
    eps, dt, steps, paths = 0.05, 0.01, 1000, 200_000
    exact = euler_chain_probability(
        drift_1d, math.sqrt(2 * eps), x0=-1.0, barrier=1.0, end_time=10.0, dt=dt, lower=-2.5
    )
    continuous = continuous_probability(
        drift_1d, math.sqrt(2 * eps), x0=-1.0, barrier=1.0, end_time=10.0, lower=-2.5
    )
    rng = np.random.default_rng(20261125)
    scale = math.sqrt(2 * eps * dt)
    noise = np.empty(paths)
    x = np.full(paths, -1.0)
    hit = np.zeros(paths, dtype=bool)
    hits = 0
    for step in range(steps):
        rng.standard_normal(out=noise[: x.size])
        x += (x - x**3) * dt + scale * noise[: x.size]
        hit |= x >= 1.0
        if step % 50 == 49 or step == steps - 1:  # drop the arrived paths now and then
            hits += int(hit.sum())
            x, hit = x[~hit], hit[~hit]
    p = hits / paths
    std_error = math.sqrt(p * (1 - p) / paths)
    z = (p - exact) / std_error
    print(
        f"brute force {p:.5e} +- {std_error:.1e}; reference {exact:.5e} (z {z:+.2f}); "
        f"continuous {continuous:.5e}"
    )
    assert 5e-3 < exact < 2e-2
    assert abs(z) < 3.0
