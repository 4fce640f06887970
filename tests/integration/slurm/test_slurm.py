"""A real Slurm run: the dask workers are Slurm jobs (single-node Slurm from harness.sh).

Run by ``nox -s slurm`` (which installs and starts Slurm, then stops it). Elsewhere these
tests are skipped unless a Slurm controller answers (``harness.sh start`` starts one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.runners.models import MODELS_FILE, tables
from tests.runners.sigint_driver import start

from pytams.core import TAMS, Database, MemoryStore, Progress, load_config


def slurm_running() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip().startswith(("idle", "mix", "alloc"))


SKIP_REASON = (
    "no Slurm controller answers: `nox -s slurm` runs these tests "
    "(tests/integration/slurm/harness.sh start starts one)"
)
if os.environ.get("PYTAMS_REQUIRE_SLURM") and not slurm_running():  # nox -s slurm: no skipping
    raise RuntimeError(SKIP_REASON.replace("no Slurm", "PYTAMS_REQUIRE_SLURM is set but no Slurm"))
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(not slurm_running(), reason=SKIP_REASON)]

MODEL = f"{MODELS_FILE}:FaultyOU"  # a file reference: the workers re-import the file


def squeue() -> list[tuple[str, str, str]]:
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True, check=True, timeout=10
    )
    return [tuple(line.split()) for line in out.stdout.splitlines()]  # type: ignore[misc]


def dask_table(logs: Path) -> dict[str, Any]:
    return {
        "backend": "slurm",
        "queue": "debug",
        "cores": 1,
        "memory": "500MB",
        "processes": 1,
        "walltime": "00:10:00",
        "interface": "lo",
        "job_name": "pytams-test-worker",
        "log_directory": str(logs),
    }


def run(config: dict[str, Any], progress: Any = None) -> tuple[Any, Database]:
    store = MemoryStore()
    result = TAMS(MODEL, load_config(config), store=store, progress=progress).run()
    return result, Database(store)


def test_dask_workers_are_slurm_jobs_and_give_the_serial_result(tmp_path: Path) -> None:
    model = {"sleep": 0.002}
    serial, serial_db = run(tables(model=model))
    seen: list[list[tuple[str, str, str]]] = []
    cancelled: list[str] = []
    replaced: list[str] = []
    before: set[str] = set()

    def watch(progress: Progress) -> None:
        jobs = [job for job in squeue() if job[1] == "pytams-test-worker"]
        seen.append(jobs)
        running = [job for job in jobs if job[2] == "RUNNING"]
        # a worker job that ends (here: scancel) is replaced by a new one
        if progress.phase == "iteration" and progress.iteration == 2 and not cancelled:
            before.update(job[0] for job in jobs)
            subprocess.run(["scancel", running[0][0]], check=True)
            cancelled.append(running[0][0])
        elif cancelled and not replaced:  # the run goes on meanwhile on the other worker
            deadline = time.monotonic() + 60
            while not replaced and time.monotonic() < deadline:
                new = [
                    job[0]
                    for job in squeue()
                    if job[1] == "pytams-test-worker"
                    and job[2] == "RUNNING"
                    and job[0] not in before
                ]
                replaced.extend(new)
                time.sleep(0.5)

    config = tables(runner="dask", workers=2, model=model, dask=dask_table(tmp_path))
    result, db = run(config, progress=watch)
    assert result == serial
    assert db.ensemble == serial_db.ensemble
    assert db.iterations == serial_db.iterations
    running = [{job[0] for job in jobs if job[2] == "RUNNING"} for jobs in seen]
    assert max(len(ids) for ids in running) == 2, seen  # both workers ran as Slurm jobs
    assert cancelled
    assert replaced, seen  # a new Slurm job replaced the cancelled one
    assert cancelled[0] not in set().union(*running[-3:]), seen
    assert list(tmp_path.glob("*.err")), "the worker jobs wrote their logs to log_directory"
    # the cluster was closed with the run: its jobs are cancelled
    assert not [
        job
        for job in squeue()
        if job[1] == "pytams-test-worker" and job[2] in ("RUNNING", "PENDING")
    ]


def test_ctrl_c_cancels_the_slurm_jobs_and_the_run_resumes(tmp_path: Path) -> None:
    import json
    import signal
    import sys

    driver = Path(__file__).resolve().parents[2] / "runners" / "sigint_driver.py"
    db, out = tmp_path / "run.tams", tmp_path / "result.json"
    pytest.importorskip("pytams.io", reason="an on-disk store carries the run across processes")
    env = {**os.environ, "PYTAMS_TEST_DASK": json.dumps(dask_table(tmp_path))}
    command = [sys.executable, str(driver), "dask", "2", str(db), str(out)]
    process = start(command, env)
    ours = {job[0] for job in squeue() if job[1] == "pytams-test-worker"}
    assert ours, "the run's workers are Slurm jobs"
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) != 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [job for job in squeue() if job[0] in ours and job[2] in ("RUNNING", "PENDING")]
        if not left:
            break
        time.sleep(0.5)
    assert not left, f"Ctrl-C left the worker jobs {left}"
    # resume on another runner (the runner may change on resume): the serial result
    resumed = subprocess.run(
        [*command[:2], "asyncio", "2", str(db), str(out), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    serial, _ = run(tables(model={"sleep": 0.002}))
    got, want = json.loads(out.read_text()), json.loads(serial.to_json())
    got.pop("wall_time")
    want.pop("wall_time")
    assert got == want
