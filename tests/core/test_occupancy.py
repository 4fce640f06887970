"""The warning at run start when more workers than kills per iteration would idle."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, MemoryStore, SerialRunner, load_config
from pytams.core.occupancy import idle_warning
from tests.core.models import ROOT, OrnsteinUhlenbeck

EXAMPLE = ROOT / "examples" / "brownian" / "input.toml"


def asyncio_runner(workers: int) -> Any:
    """pytams-runners' AsyncioRunner (the tests that need it skip without the package)."""
    return pytest.importorskip("pytams.runners").AsyncioRunner(workers=workers)


def test_more_workers_than_kills_says_how_much_idles_and_the_fix() -> None:
    message = idle_warning(8, 1)
    assert message is not None
    assert "\n" not in message
    assert "at most 1 of 8 workers are busy" in message
    assert "7/8 of the cluster idles" in message
    assert "idles for most of the run" in message
    assert "fix: set [tams] kills_per_iteration = 8" in message
    assert "unbiased for any k" in message
    assert "at most 3 of 4 workers" in (idle_warning(4, 3) or "")


@pytest.mark.parametrize(("workers", "k"), [(1, 1), (2, 2), (4, 8), (1, 5)])
def test_no_warning_when_every_worker_can_be_busy(workers: int, k: int) -> None:
    assert idle_warning(workers, k) is None


def test_with_as_many_workers_as_trajectories_the_fix_respects_k_below_n() -> None:
    message = idle_warning(64, 1, ntrajectories=20) or ""
    assert "set [runner] workers = 19 and [tams] kills_per_iteration = 19" in message
    assert "kills_per_iteration = 64" not in message
    assert idle_warning(64, 1, ntrajectories=100) == idle_warning(64, 1)


def config(k: int, **tams: Any) -> Any:
    return load_config(
        {
            "tams": {"ntrajectories": 8, "kills_per_iteration": k, "seed": 3, **tams},
            "trajectory": {"end_time": 1.0, "step_size": 0.05, "target_score": 1.0},
            "model": {"barrier": 1.5},
        }
    )


def idle_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING
        and r.name.startswith("pytams")
        and "kills_per_iteration" in r.getMessage()
    ]


@pytest.mark.parametrize(("k", "expected"), [(1, 1), (2, 0)])
def test_an_asyncio_run_warns_once_when_workers_exceed_k(
    k: int, expected: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pytams")
    with asyncio_runner(2) as runner:
        result = TAMS(OrnsteinUhlenbeck, config(k, repeats=2), runner=runner, store=None).run()
    assert result.complete
    records = idle_records(caplog)
    assert len(records) == expected  # once per run, not once per repeat
    if expected:
        assert "at most 1 of 2 workers are busy" in records[0].getMessage()


def test_no_warning_for_the_serial_runner_or_without_iterations(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pytams")
    TAMS(OrnsteinUhlenbeck, config(1), runner=SerialRunner(), store=MemoryStore()).run()
    with asyncio_runner(2) as runner:
        no_iterations = config(1, max_iterations=0)
        TAMS(OrnsteinUhlenbeck, no_iterations, runner=runner, store=MemoryStore()).run()
    assert idle_records(caplog) == []


def pytams_run(tmp_path: Path, name: str, *extra: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / f"{name}.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytams.core.cli",
            "run",
            str(EXAMPLE),
            "--set",
            "tams.ntrajectories=10",
            "--set",
            "model.barrier=2.0",
            "--seed",
            "3",
            "--quiet",
            "--json",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    data = json.loads(out.read_text())
    del data["wall_time"]
    return completed.stderr, data


def test_pytams_run_prints_the_warning_on_stderr_and_the_json_is_unchanged(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pytams.runners")
    stderr, parallel = pytams_run(
        tmp_path, "asyncio", "--set", "runner.type=asyncio", "--set", "runner.workers=2"
    )
    lines = [line for line in stderr.splitlines() if "kills_per_iteration" in line]
    assert len(lines) == 1, stderr
    assert "WARNING" in lines[0]
    assert "fix: set [tams] kills_per_iteration = 2" in lines[0]
    quiet, serial = pytams_run(tmp_path, "serial")
    assert "kills_per_iteration" not in quiet, quiet
    assert parallel == serial
