"""Every way to build, test, lint, type-check and benchmark pytams (``nox -l`` lists them)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests", "core-alone"]

ROOT = Path(__file__).parent
PACKAGES = sorted(str(p) for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
TEST_DEPS = ["pytest>=8", "hypothesis>=6"]


def install_workspace(session: nox.Session) -> None:
    """Every package of the workspace, editable, with the test dependencies."""
    session.install(*TEST_DEPS, *[arg for p in PACKAGES for arg in ("-e", p)])


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (slow statistical tests included) over every package."""
    install_workspace(session)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy (strict) over the packages, tests and benchmarks."""
    install_workspace(session)
    session.install("mypy>=1.10")
    session.run("mypy")


@nox.session(name="core-alone")
def core_alone(session: nox.Session) -> None:
    """pytams-core alone in a clean venv: only numpy and tqdm come with it, and it runs."""
    session.install(str(ROOT / "packages" / "pytams-core"))
    session.run("python", str(ROOT / "tests" / "core" / "check_dependencies.py"))
    session.run("pytams", "run", str(ROOT / "examples" / "brownian" / "input.toml"),
                "--set", "tams.ntrajectories=20", "--quiet")
    session.install(*TEST_DEPS)
    session.run("pytest", str(ROOT / "tests" / "core"), *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures and ratios measured in the same run."""
    install_workspace(session)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def slurm(session: nox.Session) -> None:
    """Real Slurm on this machine: install slurm-wlm + munge, start the daemons, run the tests
    marked slurm, stop the daemons by their PIDs (also on failure). Needs root (Debian)."""
    harness = str(ROOT / "tests" / "integration" / "slurm" / "harness.sh")
    install_workspace(session)
    session.run(harness, "install", external=True)
    try:
        session.run(harness, "start", external=True)
        session.run("pytest", str(ROOT / "tests"), "-m", "slurm", *session.posargs,
                    env={"PYTAMS_REQUIRE_SLURM": "1"})
    finally:
        session.run(harness, "stop", external=True)
