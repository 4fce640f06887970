"""A real Ctrl-C (SIGINT to the run's process group, as a terminal sends it): the runner's
processes end, and the run resumes from its on-disk database to the serial result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "pytams.io", reason="an on-disk store (pytams-io) carries the run across processes"
)

from tests.runners.sigint_driver import start

DRIVER = Path(__file__).with_name("sigint_driver.py")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(("kind", "workers"), [("asyncio", 2), ("dask", 2)])
def test_ctrl_c_ends_the_workers_and_the_run_resumes(
    kind: str, workers: int, tmp_path: Path, serial_run: Any
) -> None:
    db, out = tmp_path / "run.tams", tmp_path / "result.json"
    command = [sys.executable, str(DRIVER), kind, str(workers), str(db), str(out)]
    process = start(command)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) != 0
    deadline = time.monotonic() + 30
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(process.pid), "worker processes outlived the Ctrl-C"
    assert not out.exists()

    resumed = subprocess.run(
        [*command, "--resume"], capture_output=True, text=True, timeout=300, check=False
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    got = json.loads(out.read_text())
    want = json.loads(serial_run[0].to_json())
    got.pop("wall_time")
    want.pop("wall_time")
    assert got == want
