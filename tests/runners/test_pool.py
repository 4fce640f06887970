"""AsyncioRunner finds its pool's workers through public APIs only (no private attributes)."""

from __future__ import annotations

import inspect
import multiprocessing
import signal
from pathlib import Path

from pytams.runners import AsyncioRunner, asyncio_runner
from pytams.runners.asyncio_runner import CLOSING, _start_worker


def start_worker(directory: Path) -> int | None:
    process = multiprocessing.get_context("spawn").Process(
        target=_start_worker, args=(str(directory),)
    )
    process.start()
    process.join(timeout=60)
    return process.exitcode


def test_a_starting_worker_reports_itself(tmp_path: Path) -> None:
    assert start_worker(tmp_path) == 0
    (report,) = tmp_path.iterdir()
    assert report.name.isdigit()


def test_a_worker_starting_after_its_pool_closed_terminates_itself(tmp_path: Path) -> None:
    (tmp_path / CLOSING).touch()
    assert start_worker(tmp_path) == -signal.SIGTERM
    assert start_worker(tmp_path / "forgotten") == -signal.SIGTERM  # its directory removed


def test_the_worker_directories_are_removed_with_their_pools() -> None:
    runner = AsyncioRunner(workers=1)
    with runner:
        (directory,) = runner._worker_dirs.values()
        assert directory.is_dir()
    assert not directory.exists()
    assert runner._worker_dirs == {}


def test_no_private_attribute_of_the_process_pool_is_read() -> None:
    source = inspect.getsource(asyncio_runner)
    assert "_processes" not in source
    assert "getattr(pool" not in source
