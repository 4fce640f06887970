"""Regenerate (or check) the reference tables computed by `pytams.models.reference`.

The table ``tests/data/brownian.csv`` holds, for Brownian motion with drift
(``dX = mu dt + sigma dW``, ``X(0) = x0``, event ``X >= barrier`` before ``T``):

- ``p_continuous``: the closed form `brownian_probability` (reflection principle);
- ``p_euler``: `euler_chain_probability` with its default discretisation (Gauss-Legendre
  panels of half a step's standard deviation, 8 nodes per panel, default lower cut-off);
- ``p_euler_abs_error``: an honest bound on the numerical error of ``p_euler``: the
  difference from a second solve on a finer and wider grid (panels a quarter of a step's
  standard deviation, 12 nodes per panel, lower cut-off two standard deviations of the
  horizon further down), floored at the accumulated rounding, ``64 * steps * eps * p``, and
  rounded up to two significant digits.

Other values from the same solver that are written out by hand (test constants, the known
answers quoted in ``examples/*/README.md``) are recomputed and compared at the precision
they are written with.

Usage (from the repository root)::

    python scripts/reference_tables.py            # rewrite tests/data/brownian.csv
    python scripts/reference_tables.py --check    # recompute, compare, exit 1 on disagreement
    python scripts/reference_tables.py --check --rows 3 6   # only some table rows (0-based)
    python scripts/reference_tables.py --check --no-others  # the table only

``--table PATH`` reads/writes another file. The full regeneration takes about a minute on
one core (it prints its runtime).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "tests" / "data" / "brownian.csv"
COLUMNS = (
    "mu",
    "sigma",
    "x0",
    "T",
    "barrier",
    "dt",
    "p_continuous",
    "p_euler",
    "p_euler_abs_error",
)
# (mu, sigma, x0, T, barrier, dt): the cases of the table, in its order
CASES: tuple[tuple[float, float, float, float, float, float], ...] = (
    (0.0, 1.0, 0.0, 1.0, 2.576, 0.01),
    (0.0, 1.0, 0.0, 1.0, 3.0, 0.01),
    (0.0, 1.0, 0.0, 1.0, 4.0, 0.01),
    (0.0, 1.0, 0.0, 1.0, 5.0, 0.01),
    (0.0, 1.0, 0.0, 1.0, 6.0, 0.01),
    (-1.0, 1.0, 0.0, 1.0, 3.0, 0.01),
    (-1.0, 1.0, 0.0, 1.0, 4.5, 0.01),
)
# significant digits written for the probabilities: the rounding (5e-15 relative) stays well
# below the error floor (64 * 100 * 2.2e-16 = 1.4e-12 relative), so the error column is the
# error of the number as written
DIGITS = 15
# the closed form is exact up to the rounding of erfc and exp
CLOSED_FORM_RELATIVE = 1e-12


@dataclass(frozen=True)
class Row:
    """One row of the Brownian table."""

    mu: float
    sigma: float
    x0: float
    T: float
    barrier: float
    dt: float
    p_continuous: float
    p_euler: float
    p_euler_abs_error: float
    # half a unit in the last digit written in the file (0 for a freshly computed row)
    p_continuous_rounding: float = 0.0
    p_euler_rounding: float = 0.0

    def key(self) -> tuple[float, float, float, float, float, float]:
        """The parameters that define the case."""
        return (self.mu, self.sigma, self.x0, self.T, self.barrier, self.dt)

    def label(self) -> str:
        """A short name for messages."""
        return f"mu={self.mu:g} sigma={self.sigma:g} x0={self.x0:g} T={self.T:g} b={self.barrier:g}"


def round_up(value: float, digits: int = 2) -> float:
    """``value`` rounded up to ``digits`` significant digits."""
    if value <= 0.0:
        return 0.0
    scale = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return math.ceil(value / scale * (1.0 - 1e-12)) * scale


def compute(case: tuple[float, float, float, float, float, float]) -> Row:
    """A table row from the solver, with its error estimate."""
    from pytams.models.reference import brownian_probability, euler_chain_probability

    mu, sigma, x0, end_time, barrier, dt = case
    p = euler_chain_probability(mu, sigma, x0=x0, barrier=barrier, end_time=end_time, dt=dt)
    spread = sigma * math.sqrt(dt)
    default_lower = x0 - 10.0 * sigma * math.sqrt(end_time) - 0.5 * (barrier - x0)
    finer = euler_chain_probability(
        mu,
        sigma,
        x0=x0,
        barrier=barrier,
        end_time=end_time,
        dt=dt,
        panel=spread / 4.0,
        order=12,
        lower=default_lower - 2.0 * sigma * math.sqrt(end_time),
    )
    steps = round(end_time / dt)
    floor = 64.0 * steps * sys.float_info.epsilon * p
    error = round_up(max(abs(finer - p), floor))
    closed = brownian_probability(mu, sigma, x0, barrier, end_time)
    return Row(mu, sigma, x0, end_time, barrier, dt, closed, p, error)


def read(path: Path) -> list[Row]:
    """The rows of a table file."""
    with path.open() as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            msg = f"{path}: columns {reader.fieldnames}, expected {list(COLUMNS)}"
            raise ValueError(msg)
        return [
            Row(
                **{k: float(v) for k, v in row.items()},
                p_continuous_rounding=half_unit(row["p_continuous"]),
                p_euler_rounding=half_unit(row["p_euler"]),
            )
            for row in reader
        ]


def write(path: Path, rows: Sequence[Row]) -> None:
    """Write the table (same columns and parameter formatting as before)."""
    fmt = f".{DIGITS - 1}e"
    with path.open("w", newline="") as handle:
        handle.write(",".join(COLUMNS) + "\n")
        for r in rows:
            handle.write(
                f"{r.mu!r},{r.sigma!r},{r.x0!r},{r.T!r},{r.barrier!r},{r.dt!r},"
                f"{r.p_continuous:{fmt}},{r.p_euler:{fmt}},{r.p_euler_abs_error:.1e}\n"
            )


def half_unit(text: str) -> float:
    """Half a unit in the last digit of a number as written (``2.5e-03`` -> 5e-05)."""
    value = float(text)
    if value == 0.0:
        return 0.0
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - significant(text) + 1)


def compare(committed: Row, fresh: Row) -> list[str]:
    """Disagreements between a committed row and a recomputed one (empty: they agree)."""
    problems = []
    if committed.key() != fresh.key():
        problems.append(f"parameters {committed.key()} != {fresh.key()}")
        return problems
    allowed = committed.p_euler_abs_error + fresh.p_euler_abs_error
    allowed += committed.p_euler_rounding
    diff = abs(committed.p_euler - fresh.p_euler)
    if diff > allowed:
        problems.append(
            f"p_euler {committed.p_euler:.12e} vs solver {fresh.p_euler:.12e}: |diff| "
            f"{diff:.2e} > stated error {committed.p_euler_abs_error:.1e} + solver error "
            f"{fresh.p_euler_abs_error:.1e} (relative diff {diff / fresh.p_euler:.1e})"
        )
    if fresh.p_euler_abs_error > 10.0 * committed.p_euler_abs_error:
        problems.append(
            f"stated error {committed.p_euler_abs_error:.1e} is below the estimated "
            f"{fresh.p_euler_abs_error:.1e}"
        )
    allowed = CLOSED_FORM_RELATIVE * fresh.p_continuous + committed.p_continuous_rounding
    diff = abs(committed.p_continuous - fresh.p_continuous)
    if diff > allowed:
        problems.append(
            f"p_continuous {committed.p_continuous:.12e} vs closed form "
            f"{fresh.p_continuous:.12e} (|diff| {diff:.2e} > {allowed:.1e})"
        )
    return problems


@dataclass(frozen=True)
class Quoted:
    """A value written out by hand elsewhere, and how to recompute it."""

    where: str
    written: float
    digits: int  # significant digits of the written value
    compute: str  # a key of OTHERS' solvers


def _ou_disk() -> float:
    from pytams.models.reference import euler_chain_probability

    return euler_chain_probability(
        lambda x: -x, 1.0, x0=0.0, barrier=2.0, end_time=1.0, dt=0.01
    )  # tests/compat/input_disk.toml


def _brownian_drift_table() -> float:
    from pytams.models.reference import euler_chain_probability

    return euler_chain_probability(-1.0, 1.0, x0=0.0, barrier=3.0, end_time=1.0, dt=0.01)


def significant(text: str) -> int:
    """Significant digits of a number as written (``6.922864427e-05`` -> 10)."""
    mantissa = re.sub(r"[eE].*$", "", text)
    return len(mantissa.replace(".", "").replace("-", "").lstrip("0"))


def quoted_in_tests() -> list[tuple[str, str, float]]:
    """(where, written text, recomputed value) of the constants in test files."""
    found: list[tuple[str, str, float]] = []
    disk = ROOT / "tests" / "compat" / "test_disk_models.py"
    match = re.search(r"^EULER_P = ([0-9.e+-]+)", disk.read_text(), re.MULTILINE)
    if match:
        found.append((f"{disk.relative_to(ROOT)}: EULER_P", match.group(1), _ou_disk()))
    stats = ROOT / "tests" / "models" / "test_statistics.py"
    match = re.search(
        r"check\(TAMS\(None, cfg\)\.run\(\), ([0-9.e+-]+), \"brownian table\"\)", stats.read_text()
    )
    if match:
        found.append(
            (f"{stats.relative_to(ROOT)}: brownian table", match.group(1), _brownian_drift_table())
        )
    return found


def quoted_in_examples() -> list[tuple[str, str, float]]:
    """(where, written text, recomputed value) of the known answers in examples/*/README.md."""
    from pytams.core.config import load_config
    from pytams.models.compare import known_answer

    found: list[tuple[str, str, float]] = []
    for folder in sorted((ROOT / "examples").iterdir()):
        config, readme = folder / "input.toml", folder / "README.md"
        if not (config.exists() and readme.exists()):
            continue
        answer = known_answer(load_config(config))
        if answer is None:
            continue
        text = readme.read_text()
        where = str(readme.relative_to(ROOT))
        match = re.search(r"Known answer: \*\*([0-9.e+-]+)\*\*", text)
        if match:
            found.append((f"{where}: Euler chain", match.group(1), answer.probability))
        match = re.search(r"([0-9.]+e[+-]?[0-9]+)\s+for\s+the\s+continuous\s+process", text)
        if match and answer.continuous is not None:
            found.append((f"{where}: continuous", match.group(1), answer.continuous))
    return found


def check_quoted(items: Sequence[tuple[str, str, float]]) -> list[str]:
    """Print each quoted value against the solver; the ones that disagree beyond rounding."""
    problems = []
    for where, text, value in items:
        written, digits = float(text), significant(text)
        # the solver's own error (1e-9 relative for the chain, 1e-6 for the continuous PDE)
        ok = abs(written - value) <= half_unit(text) + 1e-6 * abs(value)
        status = "ok" if ok else "DISAGREES"
        print(
            f"  {where}: written {text}, solver {value:.{max(digits, 4) + 2}e} "
            f"(relative diff {(written - value) / value:+.1e}) {status}"
        )
        if not ok:
            problems.append(f"{where}: written {text}, solver {value:.12e}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate or check the tables; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--table", type=Path, default=TABLE, help="the Brownian table file")
    parser.add_argument(
        "--rows", type=int, nargs="+", help="only these rows (0-based; with --check)"
    )
    parser.add_argument(
        "--no-others", action="store_true", help="skip the values quoted in tests and examples"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    indices = list(range(len(CASES))) if args.rows is None else args.rows
    if args.rows is not None and not args.check:
        parser.error("--rows only with --check (a regeneration writes every row)")
    problems: list[str] = []
    committed = read(args.table) if args.check else []
    if args.check and len(committed) != len(CASES):
        problems.append(f"{args.table}: {len(committed)} rows, expected {len(CASES)}")
    fresh: list[Row] = []
    print(f"{args.table.relative_to(ROOT) if args.table.is_relative_to(ROOT) else args.table}:")
    for index in indices:
        row = compute(CASES[index])
        fresh.append(row)
        line = f"  {row.label()}: p_euler {row.p_euler:.12e} +- {row.p_euler_abs_error:.1e}"
        if args.check and index < len(committed):
            old = committed[index]
            line += f" (committed {old.p_euler:.12e}, rel {old.p_euler / row.p_euler - 1:+.1e})"
            problems += [f"row {index} ({row.label()}): {p}" for p in compare(old, row)]
        print(line, flush=True)
    if not args.check:
        write(args.table, fresh)
        print(f"wrote {args.table}")
    if not args.no_others:
        print("values quoted in tests and examples:")
        problems += check_quoted(quoted_in_tests() + quoted_in_examples())
    print(f"took {time.perf_counter() - start:.1f} s")
    if problems:
        print("DISAGREEMENT with pytams.models.reference:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
