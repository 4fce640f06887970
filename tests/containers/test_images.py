"""End to end: build both images, run them offline, and run TAMS with dask workers that are
Slurm jobs inside the full image; every run gives the serial runner's result.

Marked ``containers``: `nox -s containers` runs these (it installs Apptainer if needed, builds
the images with containers/build.sh, starts the single-node Slurm of
tests/integration/slurm/harness.sh and stops it afterwards).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.containers

REPO = Path(__file__).resolve().parents[2]
BUILD_SH = REPO / "containers" / "build.sh"
DRIVER = REPO / "containers" / "slurm-driver.sbatch"
HARNESS = REPO / "tests" / "integration" / "slurm" / "harness.sh"
EXAMPLE = REPO / "examples" / "brownian"
JOB = ["--set", "tams.ntrajectories=10", "--set", "model.barrier=2.5"]
BANNED = (
    "dask",
    "distributed",
    "dask_jobqueue",
    "netCDF4",
    "xarray",
    "pytams.runners",
    "pytams.io",
)


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print a line on the terminal even while pytest captures output."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:  # pragma: no cover
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}", flush=True)


@pytest.fixture(scope="session")
def apptainer() -> str:
    path = os.environ.get("APPTAINER") or shutil.which("apptainer")
    if path is None and Path("/opt/pytams-apptainer/usr/bin/apptainer").exists():
        path = "/opt/pytams-apptainer/usr/bin/apptainer"
    assert path, "no apptainer: run containers/install-apptainer.sh (nox -s containers does)"
    return str(Path(path).resolve())


@pytest.fixture(scope="session")
def images(apptainer: str, request: pytest.FixtureRequest) -> dict[str, Path]:
    """Both images: built here, or (PYTAMS_CONTAINER_REUSE=1) the ones nox just built."""
    build = Path(os.environ.get("PYTAMS_CONTAINER_BUILD", REPO / "containers" / "build"))
    env = {**os.environ, "APPTAINER": apptainer, "PYTAMS_CONTAINER_BUILD": str(build)}
    times = build / "build-times.txt"
    paths = {name: build / f"pytams-{name}.sif" for name in ("core", "full")}
    reuse = os.environ.get("PYTAMS_CONTAINER_REUSE") and all(p.exists() for p in paths.values())
    if not reuse:
        times.unlink(missing_ok=True)
        for target in ("base", "core", "full"):
            subprocess.run(["bash", str(BUILD_SH), target], env=env, check=True)
    if times.exists():
        for line in times.read_text().splitlines():
            report(request, f"[containers] build time: {line}")
    for name, path in paths.items():
        assert path.exists(), f"{path} was not built; see {build}/pytams-{name}.build.log"
        report(
            request, f"[containers] image size: {path.name} {path.stat().st_size / 2**20:.1f} MiB"
        )
    return paths


def run(cmd: list[str], timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{cmd} did not end within {timeout} s:\n{exc.stdout!r}\n{exc.stderr!r}")
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


def result_of(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text())
    result.pop("wall_time", None)
    return result


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example and a model that refuses to run outside the image when told to."""
    work = tmp_path_factory.mktemp("containers")
    text = (EXAMPLE / "input.toml").read_text()
    assert 'class = "brownian.py:BrownianMotion"' in text
    (work / "input.toml").write_text(
        text.replace('class = "brownian.py:BrownianMotion"', 'class = "inimage.py:InImage"')
    )
    source = (EXAMPLE / "brownian.py").read_text()
    (work / "inimage.py").write_text(
        source
        + textwrap.dedent('''

        import os as _os


        class InImage(BrownianMotion):
            """BrownianMotion that, with PYTAMS_TEST_REQUIRE_IMAGE set, runs only in a container."""

            def _setup(self, params: dict[str, Any]) -> None:
                if _os.environ.get("PYTAMS_TEST_REQUIRE_IMAGE") and not _os.path.isdir(
                        "/.singularity.d"):
                    raise RuntimeError("this model ran outside the Apptainer image")
                super()._setup(params)
        ''')
    )
    return work


@pytest.fixture(scope="session")
def serial(workdir: Path) -> dict[str, Any]:
    """The reference: the job on the host, with the serial runner."""
    from pytams.core.cli import main

    out = workdir / "serial.json"
    assert main(["run", str(workdir / "input.toml"), *JOB, "--quiet", "--json", str(out)]) == 0
    return result_of(out)


def labels(apptainer: str, image: Path) -> dict[str, str]:
    out = run([apptainer, "inspect", "--json", "--labels", str(image)])
    data = json.loads(out.stdout)
    found: dict[str, str] = data["data"]["attributes"]["labels"]
    return found


def versions() -> dict[str, str]:
    found = {}
    for pyproject in sorted((REPO / "packages").glob("*/pyproject.toml")):
        text = pyproject.read_text()
        name = re.search(r'^name = "([^"]+)"', text, re.M)
        version = re.search(r'^version = "([^"]+)"', text, re.M)
        assert name, pyproject
        assert version, pyproject
        found[name.group(1)] = version.group(1)
    return found


def test_labels_carry_the_package_versions(apptainer: str, images: dict[str, Path]) -> None:
    ours = versions()
    core, full = labels(apptainer, images["core"]), labels(apptainer, images["full"])
    assert core["org.pytams.version.pytams-core"] == ours["pytams-core"]
    assert core["org.pytams.python"].startswith("3.11")
    assert not [k for k in core if "dask" in k or "netcdf" in k]
    for name, version in ours.items():
        assert full[f"org.pytams.version.{name}"] == version
    for name in ("dask", "distributed", "dask-jobqueue", "netcdf4", "xarray"):
        assert f"org.pytams.version.{name}" in full


def importable(apptainer: str, image: Path) -> list[str]:
    code = (
        "import importlib.util as u, sys; "
        f"print(' '.join(m for m in {BANNED!r} if u.find_spec(m.split('.')[0]) and "
        "u.find_spec(m)))"
    )
    return run([apptainer, "exec", str(image), "python", "-c", code]).stdout.split()


def test_core_image_contains_neither_dask_nor_netcdf4(
    apptainer: str, images: dict[str, Path]
) -> None:
    assert importable(apptainer, images["core"]) == []
    listed = run(
        [
            apptainer,
            "exec",
            str(images["core"]),
            "python",
            "-m",
            "pip",
            "list",
            "--format",
            "json",
            "--disable-pip-version-check",
        ]
    ).stdout
    names = {d["name"].lower() for d in json.loads(listed)}
    assert names.isdisjoint({"dask", "distributed", "dask-jobqueue", "netcdf4", "xarray"}), names
    assert "pytams-core" in names
    # the same probe finds them all in the full image: it would see them in the core image
    assert importable(apptainer, images["full"]) == list(BANNED)


def test_core_image_runs_the_job(
    apptainer: str, images: dict[str, Path], workdir: Path, serial: dict[str, Any]
) -> None:
    out = workdir / "core.json"
    run(
        [
            apptainer,
            "exec",
            str(images["core"]),
            "pytams",
            "run",
            str(workdir / "input.toml"),
            *JOB,
            "--quiet",
            "--json",
            str(out),
        ]
    )
    assert result_of(out) == serial


def test_full_image_runs_the_job_with_no_network(
    apptainer: str, images: dict[str, Path], workdir: Path, serial: dict[str, Any]
) -> None:
    out = workdir / "offline.json"
    db = workdir / "offline-db"
    script = (
        'cat /proc/self/net/dev > "$1/interfaces.txt" && exec pytams run "$1/input.toml" "${@:2}"'
    )
    run(
        [
            apptainer,
            "exec",
            "--net",
            "--network",
            "none",
            str(images["full"]),
            "bash",
            "-c",
            script,
            "job",
            str(workdir),
            *JOB,
            "--set",
            f"database.path={db}",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    interfaces = [
        line.split(":")[0].strip()
        for line in (workdir / "interfaces.txt").read_text().splitlines()[2:]
    ]
    assert interfaces == ["lo"], "the job had a network interface besides loopback"
    assert (db / "tams.nc").exists(), "the netCDF database was not written"
    assert result_of(out) == serial


# --- Slurm: dask workers inside the image -------------------------------------------------------
def slurm_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(
        ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, check=False, timeout=10
    )
    return out.returncode == 0 and out.stdout.strip().startswith(("idle", "mix", "alloc"))


@pytest.fixture(scope="session")
def slurm() -> Iterator[None]:
    """The single-node Slurm of the runners' harness, shared: this process registers as one
    of its clients on start, and stop ends the daemons only if no other client remains."""
    env = {**os.environ, "PYTAMS_SLURM_CLIENT": str(os.getpid())}
    if shutil.which("sbatch") is None:
        subprocess.run(["bash", str(HARNESS), "install"], check=True, env=env)
    subprocess.run(["bash", str(HARNESS), "start"], check=True, env=env)
    assert slurm_up(), "harness.sh start returned but sinfo shows no idle node"
    yield
    subprocess.run(["bash", str(HARNESS), "stop"], check=False, env=env)


def write_dask_input(workdir: Path, name: str, apptainer: str, image: Path, workers: int) -> Path:
    """input.toml for dask workers that are Slurm jobs running the image's python."""
    logs = workdir / f"{name}-logs"
    logs.mkdir()
    text = (workdir / "input.toml").read_text()
    text += textwrap.dedent(f'''
        [runner]
        type = "dask"
        workers = {workers}
        retries = 0

        [dask]
        backend = "slurm"
        queue = "debug"
        cores = 1
        memory = "1GB"
        processes = 1
        walltime = "00:10:00"
        interface = "lo"
        job_name = "pytams-{name}-worker"
        log_directory = "{logs}"
        python = "{apptainer} exec {image} python"
        job_script_prologue = ["export PYTAMS_TEST_REQUIRE_IMAGE=1"]
        ''')
    path = workdir / f"{name}.toml"
    path.write_text(text)
    return path


def worker_jobs(name: str) -> list[str]:
    out = run(["squeue", "-h", "-o", "%i %j %T"], timeout=10).stdout
    return [line for line in out.splitlines() if f"pytams-{name}-worker" in line]


def test_slurm_workers_run_inside_the_image_and_give_the_serial_result(
    apptainer: str,
    images: dict[str, Path],
    workdir: Path,
    serial: dict[str, Any],
    slurm: None,
    request: pytest.FixtureRequest,
) -> None:
    config = write_dask_input(workdir, "host", apptainer, images["full"], workers=2)
    out = workdir / "slurm-host.json"
    started = time.perf_counter()
    pytams = str(Path(sys.executable).parent / "pytams")
    run([pytams, "run", str(config), *JOB, "--quiet", "--json", str(out)], timeout=300)
    report(
        request,
        f"[containers] Slurm run, driver on the host, 2 workers in the image: "
        f"{time.perf_counter() - started:.1f} s",
    )
    assert result_of(out) == serial
    logs = list((workdir / "host-logs").glob("*.err"))
    assert logs, "no worker job wrote a log: the workers were not Slurm jobs"
    assert not [job for job in worker_jobs("host") if "RUNNING" in job or "PENDING" in job]


def test_driver_job_script_runs_the_job_inside_the_image(
    apptainer: str,
    images: dict[str, Path],
    workdir: Path,
    serial: dict[str, Any],
    slurm: None,
    request: pytest.FixtureRequest,
) -> None:
    """sbatch containers/slurm-driver.sbatch: the driver too runs in the image (the node has
    2 cores: the driver takes one, so one worker)."""
    config = write_dask_input(workdir, "driver", apptainer, images["full"], workers=1)
    out = workdir / "slurm-driver.json"
    env = {**os.environ, "PYTAMS_IMAGE": str(images["full"]), "APPTAINER": apptainer}
    started = time.perf_counter()
    submitted = run(
        [
            "sbatch",
            "--parsable",
            f"--chdir={workdir}",
            "--mem=1G",
            f"--output={workdir}/driver-%j.out",
            str(DRIVER),
            config.name,
            *JOB,
            "--json",
            str(out),
        ],
        env=env,
        timeout=30,
    )
    job = submitted.stdout.strip().split(";")[0]
    log = workdir / f"driver-{job}.out"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        queued = run(["squeue", "-h", "-j", job, "-o", "%T"], timeout=10).stdout.strip()
        if not queued:
            break
        time.sleep(1)
    else:
        subprocess.run(["scancel", job], check=False)
        pytest.fail(
            f"the driver job {job} did not end in 300 s; its log:\n"
            f"{log.read_text() if log.exists() else '(none)'}"
        )
    report(
        request,
        f"[containers] Slurm run, driver job and 1 worker in the image: "
        f"{time.perf_counter() - started:.1f} s",
    )
    assert out.exists(), f"the driver job wrote no result; its log:\n{log.read_text()}"
    assert result_of(out) == serial
    assert list((workdir / "driver-logs").glob("*.err")), "no worker job ran"


# --- the Apptainer installation -----------------------------------------------------------------
INSTALLED = Path("/opt/pytams-apptainer/usr/bin/apptainer")


def test_installer_is_idempotent_and_sets_fakeroot_and_capabilities(apptainer: str) -> None:
    if Path(apptainer) != INSTALLED.resolve():
        pytest.skip(f"apptainer {apptainer} was not installed by containers/install-apptainer.sh")
    out = run(["bash", str(REPO / "containers" / "install-apptainer.sh")], timeout=120)
    assert out.stdout.strip().splitlines()[-1] == str(INSTALLED.parent)
    caps = run([apptainer, "capability", "list", "root"]).stdout
    assert "CAP_SYS_ADMIN" in caps
    assert "CAP_SYS_RESOURCE" not in caps
    for path in ("/etc/subuid", "/etc/subgid"):
        assert re.search(r"^root:\d+:\d+$", Path(path).read_text(), re.M), path
    conf = (INSTALLED.parents[1] / "etc" / "apptainer" / "apptainer.conf").read_text()
    assert re.search(r"^root default capabilities = file$", conf, re.M)
