"""Every way to build, test, lint, type-check and benchmark pytams (``nox -l`` lists them)."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests", "core-alone"]

ROOT = Path(__file__).parent
PACKAGES = sorted(str(p) for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
TEST_DEPS = ["pytest>=8.1", "hypothesis>=6"]
# a third-party runner and store registered through entry points (tests/plugins)
TEST_PLUGIN = str(ROOT / "tests" / "plugins" / "pytams-testplugin")


def install_workspace(session: nox.Session) -> None:
    """Every package of the workspace, editable, the test plugin and the test dependencies."""
    session.install(*TEST_DEPS, *[arg for p in [*PACKAGES, TEST_PLUGIN] for arg in ("-e", p)])


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (slow statistical tests included), then the packages' doctests."""
    install_workspace(session)
    session.install("matplotlib>=3.6")  # the optional extra pytams-io[plot]: tested too
    # the database as a data product: a CF checker (its cf-units wheels bundle udunits2)
    # and cf_xarray (tests/io/test_data_product.py)
    session.install("compliance-checker>=5.1", "cf-xarray>=0.9")
    session.run("pytest", *session.posargs)
    # every module of every package is imported (optional extras included) and its examples run
    session.run("pytest", "--doctest-modules", *[str(Path(p) / "src") for p in PACKAGES])


@nox.session
def statistics(session: nox.Session) -> None:
    """The pooled statistical tests (tests/statistics): the estimator's mean against exact
    values with the power to see a 5% bias, and the single-run interval's coverage over
    1,000 runs per model (about ten minutes on two cores; skipped by the tests session)."""
    install_workspace(session)
    env = {"PYTAMS_STATISTICS_TESTS": "1"}
    session.run("pytest", str(ROOT / "tests" / "statistics"), *session.posargs, env=env)


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
    session.install("mypy>=1.10", "matplotlib>=3.6")  # the plot extra of pytams-io
    session.run("mypy")


@nox.session(name="core-alone")
def core_alone(session: nox.Session) -> None:
    """pytams-core alone in a clean venv: only numpy and tqdm come with it, and it runs."""
    session.install(str(ROOT / "packages" / "pytams-core"))
    session.run("python", str(ROOT / "tests" / "core" / "check_dependencies.py"))
    session.run(
        "pytams",
        "run",
        str(ROOT / "examples" / "brownian" / "input.toml"),
        "--set",
        "tams.ntrajectories=20",
        "--quiet",
    )
    session.install(*TEST_DEPS)
    # the slow statistical tests run in the tests session; here: everything else, core alone
    session.run("pytest", str(ROOT / "tests" / "core"), "-m", "not slow", *session.posargs)


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
        env = {"PYTAMS_REQUIRE_SLURM": "1"}  # no skipping: a Slurm that does not answer fails
        session.run("pytest", str(ROOT / "tests"), "-m", "slurm", *session.posargs, env=env)
    finally:
        session.run(harness, "stop", external=True)


@nox.session
def containers(session: nox.Session) -> None:
    """Apptainer images, end to end: install Apptainer if it is not on PATH, build both images
    offline (containers/build.sh), check the definition files with spython, run the images
    with no network and as the dask workers of a TAMS run on a local Slurm. Needs root."""
    import shutil

    apptainer = shutil.which("apptainer")
    if apptainer is None:
        session.run("bash", str(ROOT / "containers" / "install-apptainer.sh"), external=True)
        apptainer = "/opt/pytams-apptainer/usr/bin/apptainer"
    install_workspace(session)
    session.install("spython==0.3.14", "pip")
    build = ROOT / "containers" / "build"
    env = {
        "APPTAINER": apptainer,
        "PYTAMS_CONTAINER_BUILD": str(build),
        "PYTAMS_CONTAINER_TESTS": "1",
        "PYTAMS_CONTAINER_REUSE": "1",
    }
    (build / "build-times.txt").unlink(missing_ok=True)
    build_env = {**env, "PYTHON": str(Path(session.bin) / "python")}
    build_sh = str(ROOT / "containers" / "build.sh")
    session.run("bash", build_sh, "base", "core", "full", env=build_env, external=True)
    session.run("pytest", str(ROOT / "tests" / "containers"), *session.posargs, env=env)


@nox.session
def docs(session: nox.Session) -> None:
    """Sphinx docs, warnings as errors; then the tutorial's code and the key reference's test."""
    install_workspace(session)
    session.install("sphinx>=7", "myst-parser>=2", "matplotlib>=3.6")
    out = Path(session.create_tmp()) / "html"
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", str(ROOT / "docs"), str(out))
    tests = [str(ROOT / "tests" / "models" / name) for name in ("test_tutorial.py", "test_docs.py")]
    session.run("pytest", *tests, *session.posargs)
    session.log(f"docs built in {out}")


@nox.session
def build(session: nox.Session) -> None:
    """The four wheels into dist/ (git-ignored): `pip install dist/*.whl` installs pytams."""
    session.install("uv")
    dist = ROOT / "dist"
    session.run("uv", "build", "--all-packages", "--wheel", "--out-dir", str(dist), "--quiet")
    wheels = sorted(path.name for path in dist.glob("pytams_*.whl"))
    built = {wheel.split("-")[0] for wheel in wheels}
    missing = sorted({Path(p).name.replace("-", "_") for p in PACKAGES} - built)
    if missing:
        session.error(f"no wheel in dist/ for {missing}: see uv build's output above")
    session.log("built in dist/: " + ", ".join(wheels))


@nox.session
def readme(session: nox.Session) -> None:
    """The README's commands run literally in a fresh clone with nothing but Python, then every
    example's README command (tests/readme; skipped by the tests session)."""
    # pytest's configuration names a warning of pytams.core; the commands install their own
    session.install("pytest>=8.1", str(ROOT / "packages" / "pytams-core"))
    env = {"PYTAMS_README_TESTS": "1"}
    session.run("pytest", str(ROOT / "tests" / "readme"), *session.posargs, env=env)
