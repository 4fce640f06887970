"""One retry rule for every runner (pytams.core.retry): the model's errors and lost workers are
retried, the framework's errors and anything else are not."""

from __future__ import annotations

import logging
import pickle
import shutil
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dask
import pytest
from distributed import KilledWorker

from pytams.core import TAMS, Database, MemoryStore, load_config
from pytams.core.errors import (
    ConfigError,
    DatabaseCorruptError,
    MissingComponentError,
    ModelError,
    RunnerError,
    StorageError,
)
from pytams.core.retry import Attempts, WorkerLostError, is_retryable
from pytams.core.segment import SegmentTask
from pytams.core.trajectory import TrajectoryKey
from pytams.runners import AsyncioRunner, DaskRunner
from tests.runners.models import MODELS_FILE, FaultyOU, tables

RETRIED = [
    ModelError("the model raised"),
    WorkerLostError("dask lost the task"),
    BrokenProcessPool("a worker died"),
    KilledWorker("pytams-x", SimpleNamespace(address="tcp://h:1"), 0),  # type: ignore[arg-type]
]
NOT_RETRIED = [
    ConfigError("model 'm.py:M': no such file"),
    StorageError("disk full"),
    DatabaseCorruptError("bad file"),
    RunnerError("closed"),
    MissingComponentError("not installed"),
    pickle.PicklingError("cannot pickle"),
    AttributeError("Can't pickle local object"),
    TypeError("a bug"),
]


def task(slot: int = 0) -> SegmentTask:
    return SegmentTask(key=TrajectoryKey(slot=slot, generation=0))


@pytest.mark.parametrize("exc", RETRIED, ids=lambda e: type(e).__name__)
def test_the_model_errors_and_lost_workers_are_retried(exc: BaseException) -> None:
    assert is_retryable(exc)


@pytest.mark.parametrize("exc", NOT_RETRIED, ids=lambda e: type(e).__name__)
def test_framework_errors_and_other_exceptions_are_not(exc: BaseException) -> None:
    assert not is_retryable(exc)


@pytest.mark.parametrize("exc", RETRIED, ids=lambda e: type(e).__name__)
def test_attempts_retry_then_give_up_with_a_runner_error(exc: BaseException) -> None:
    attempts = Attempts(retries=2)
    attempts.failed(task(0), exc)
    attempts.failed(task(1), exc)  # each task has its own count
    attempts.failed(task(0), exc)
    with pytest.raises(RunnerError, match=r"failed 3 times \(\[runner\] retries = 2\)") as info:
        attempts.failed(task(0), exc)
    assert info.value.__cause__ is exc
    lost = not isinstance(exc, ModelError)
    assert ("why the workers died" in str(info.value)) is lost
    assert "resume" in str(info.value)


@pytest.mark.parametrize("exc", NOT_RETRIED, ids=lambda e: type(e).__name__)
def test_attempts_stop_at_once_without_a_retry(exc: BaseException) -> None:
    attempts = Attempts(retries=5)
    with pytest.raises(Exception) as info:  # noqa: PT011 - the type is checked below
        attempts.failed(task(), exc)
    if isinstance(exc, (ConfigError, StorageError, RunnerError, MissingComponentError)):
        assert info.value is exc  # a framework error is raised as it is
    else:
        assert isinstance(info.value, RunnerError)
        assert info.value.__cause__ is exc
        assert str(info.value).startswith(f"trajectory {task().key} failed with ")
        assert f"{type(exc).__name__}: {exc}; not retried" in str(info.value)


# ------------------------------------------------------------------ the runners follow it
def retries_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]


@pytest.mark.parametrize("kind", ["asyncio", "dask"])
def test_a_framework_error_in_a_task_stops_the_run_without_retries(
    kind: str, tmp_path: Path, dask2: DaskRunner, caplog: pytest.LogCaptureFixture
) -> None:
    # the model file is gone when the workers re-import it: load_model_class's ConfigError,
    # raised while the task unpickles its context (with dask, on the worker, not the scheduler)
    model_file = tmp_path / "gone.py"
    shutil.copy(MODELS_FILE, model_file)
    runner: Any = AsyncioRunner(workers=2, retries=2) if kind == "asyncio" else dask2
    dask2.retries = 2
    try:
        tams = TAMS(
            f"{model_file}:FaultyOU",
            load_config(tables(retries=2)),
            runner=runner,
            store=MemoryStore(),
        )
        model_file.unlink()
        caplog.set_level(logging.WARNING)
        with pytest.raises(ConfigError, match=r"gone\.py:FaultyOU': no such file"):
            tams.run()
    finally:
        dask2.retries = 0
    assert retries_logged(caplog) == []


def test_a_task_that_cannot_travel_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    class Local(FaultyOU):  # pickled by name: a local class cannot reach a spawned process
        pass

    caplog.set_level(logging.WARNING)
    runner = AsyncioRunner(workers=1, retries=2)
    with pytest.raises(RunnerError, match=r"failed with \w+: .*Local.*; not retried") as info:
        TAMS(Local, load_config(tables()), runner=runner, store=MemoryStore()).run()
    assert isinstance(info.value.__cause__, (pickle.PicklingError, AttributeError))
    assert retries_logged(caplog) == []


def test_dask_carries_a_local_model_class_by_value(dask2: DaskRunner, serial_run: Any) -> None:
    class Local(FaultyOU):  # dask's pickle falls back to cloudpickle, which carries it
        pass

    store = MemoryStore()
    result = TAMS(Local, load_config(tables()), runner=dask2, store=store).run()
    assert result == serial_run[0]
    assert Database(store).ensemble == serial_run[1].ensemble


def test_a_dask_task_killing_its_workers_is_retried_then_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # dask gives up on a task at once (KilledWorker) when its worker dies; pytams reruns it
    caplog.set_level(logging.WARNING)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        runner = DaskRunner(workers=1, retries=1)
        with pytest.raises(RunnerError, match=r"failed 2 times .*why the workers died") as info:
            TAMS(
                FaultyOU,
                load_config(tables(n=2, k=1, model={"exit_code": 3})),
                runner=runner,
                store=MemoryStore(),
            ).run()
    assert isinstance(info.value.__cause__, KilledWorker)
    assert len(retries_logged(caplog)) >= 1
    assert all("KilledWorker" in message for message in retries_logged(caplog))
