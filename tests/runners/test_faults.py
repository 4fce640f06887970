"""Failing models, dying workers and Ctrl-C: the result stays the serial one."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from pytams.core import MemoryStore, ModelError, Progress, RunnerError
from pytams.runners import AsyncioRunner, DaskRunner
from tests.runners.conftest import run_tams
from tests.runners.models import tables
from tests.runners.test_contract import assert_same_run


@pytest.mark.parametrize("kind", ["asyncio", "dask"])
def test_one_task_in_five_failing_completes_through_retries(
    kind: str, tmp_path: Path, serial_run: Any, dask2: DaskRunner
) -> None:
    runner = AsyncioRunner(workers=2, retries=1) if kind == "asyncio" else dask2
    if kind == "dask":
        runner.retries = 1
    try:
        config = tables(model={"fail_dir": str(tmp_path), "fail_one_in": 5})
        assert_same_run(run_tams(config, runner=runner), serial_run)
    finally:
        dask2.retries = 0
    failures = list(tmp_path.glob("failed-*"))
    assert len(failures) > 5  # about a fifth of the segments failed once


def test_a_dask_worker_killed_mid_run_does_not_change_the_result(serial_run: Any) -> None:
    killed: list[int] = []
    with DaskRunner(workers=2) as runner:
        client = runner.client
        before = set(client.run(os.getpid).values())

        def kill_one(progress: Progress) -> None:
            if progress.phase == "initial" and progress.done == 4 and not killed:
                pid = min(before)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        from pytams.core import TAMS, Database, load_config
        from tests.runners.models import FaultyOU

        store = MemoryStore()
        # 2 ms per step: the tasks are running when the worker dies
        config = load_config(tables(model={"sleep": 0.002}))
        result = TAMS(FaultyOU, config, runner=runner, store=store, progress=kill_one).run()
        client.wait_for_workers(2, timeout=60)
        after = set(client.run(os.getpid).values())
    assert killed
    assert killed[0] not in after
    assert len(after) == 2
    assert_same_run((result, Database(store)), serial_run)


def test_an_asyncio_pool_process_killed_mid_run_does_not_change_the_result(serial_run: Any) -> None:
    killed: list[int] = []
    runner = AsyncioRunner(workers=2)

    def kill_one(progress: Progress) -> None:
        if progress.phase == "initial" and progress.done == 4 and not killed:
            processes = runner._pool._processes  # type: ignore[union-attr]
            pid = min(processes)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    from pytams.core import TAMS, Database, load_config
    from tests.runners.models import FaultyOU

    store = MemoryStore()
    config = load_config(tables(model={"sleep": 0.002}))
    result = TAMS(FaultyOU, config, runner=runner, store=store, progress=kill_one).run()
    assert killed
    assert_same_run((result, Database(store)), serial_run)


@pytest.mark.parametrize("kind", ["asyncio", "dask"])
def test_an_always_failing_model_stops_with_runner_error_then_resumes(
    kind: str, tmp_path: Path, serial_run: Any, dask2: DaskRunner
) -> None:
    broken = tmp_path / "broken"

    def break_model(progress: Progress) -> None:
        if progress.phase == "iteration" and progress.iteration == 3:
            broken.touch()

    from pytams.core import TAMS, Database, load_config
    from tests.runners.models import FaultyOU

    runner = AsyncioRunner(workers=2, retries=2) if kind == "asyncio" else dask2
    store = MemoryStore()
    config = tables(model={"fail_dir": str(tmp_path)}, retries=2)
    if kind == "dask":
        dask2.retries = 2
    try:
        with pytest.raises(RunnerError, match=r"failed 3 times .*resume") as info:
            TAMS(
                FaultyOU, load_config(config), runner=runner, store=store, progress=break_model
            ).run()
        assert isinstance(info.value.__cause__, ModelError)
        assert "injected fault" in str(info.value)
        assert Database(store).pending is not None  # stopped inside iteration 3
        broken.unlink()  # the fault is fixed
        resumed = TAMS(
            FaultyOU,
            load_config({**config, "database": {"resume": True}}),
            runner=runner,
            store=store,
        ).run()
    finally:
        dask2.retries = 0
    assert_same_run((resumed, Database(store)), serial_run)


@pytest.mark.parametrize("kind", ["asyncio", "dask"])
def test_ctrl_c_shuts_the_runner_down_and_the_run_resumes(kind: str, serial_run: Any) -> None:
    def interrupt(progress: Progress) -> None:
        if progress.phase == "iteration" and progress.iteration == 2:
            raise KeyboardInterrupt

    from pytams.core import TAMS, Database, load_config
    from tests.runners.models import FaultyOU

    runner: Any = AsyncioRunner(workers=2) if kind == "asyncio" else DaskRunner(workers=1)
    store = MemoryStore()
    with pytest.raises(KeyboardInterrupt):
        TAMS(FaultyOU, load_config(tables()), runner=runner, store=store, progress=interrupt).run()
    if kind == "asyncio":
        assert runner._pool is None
        assert runner._loop is None
    else:
        assert runner.cluster is None
        assert runner.client is None
    resumed = TAMS(FaultyOU, load_config(tables(resume=True)), runner=runner, store=store).run()
    assert_same_run((resumed, Database(store)), serial_run)


def test_the_walltime_stops_the_asyncio_pool_without_waiting_for_running_tasks() -> None:
    import signal as _signal

    from pytams.core import TAMS, load_config
    from tests.runners.models import FaultyOU

    runner = AsyncioRunner(workers=2)
    processes: list[Any] = []

    def remember(progress: Progress) -> None:
        processes.extend(runner._pool._processes.values())  # type: ignore[union-attr]

    config = tables(model={"sleep": 0.05})  # about 1 s per trajectory
    config["tams"]["walltime"] = 0.5
    result = TAMS(
        FaultyOU, load_config(config), runner=runner, progress=remember, store=MemoryStore()
    ).run()
    assert result.stop_reason == "walltime"
    assert processes
    # the workers busy with abandoned tasks were terminated, not waited for
    assert {process.exitcode for process in processes} == {-_signal.SIGTERM}
