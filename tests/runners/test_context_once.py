"""The run's context travels once per run, not with every task (issue 14, point 4).

A context carries a `Counted` value: pickling it is counted in this process, unpickling it
(in a worker) appends a line to a file. Sent with every task, both counts would be the number
of tasks.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pytams.core import TAMS, Database, MemoryStore, load_config
from pytams.core.loading import ModelSpec
from pytams.core.segment import RunContext, SegmentTask
from pytams.core.trajectory import TrajectoryKey
from pytams.runners import AsyncioRunner, DaskRunner, _travel
from tests.runners.models import FaultyOU, tables

TASKS = 24


def unpickled(path: str) -> Counted:
    """Unpickling a `Counted` (in the process that unpickles it): one line in ``path``."""
    with Path(path).open("a") as file:
        file.write("x\n")
    return Counted(path)


class Counted:
    """A value of ``[model]`` whose pickling and unpickling are counted."""

    pickled: ClassVar[int] = 0

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        Counted.pickled += 1
        return (unpickled, (self.path,))


def counted_context(path: Path) -> RunContext:
    config = load_config(tables())
    return RunContext(
        model=ModelSpec(FaultyOU),
        model_params={"counted": Counted(str(path))},
        tables={},
        trajectory=config.trajectory,
        seed=1,
    )


def some_tasks(n: int = TASKS) -> list[SegmentTask]:
    return [SegmentTask(key=TrajectoryKey(slot)) for slot in range(n)]


def by_slot(results: Any) -> dict[int, tuple[list[float], list[float], bool]]:
    """What each task produced, by slot (a phase's results come in any order)."""
    return {r.task.key.slot: (list(r.times), list(r.scores), r.converged) for r in results}


def unpickles(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def asyncio2() -> Iterator[AsyncioRunner]:
    with AsyncioRunner(workers=2) as runner:
        yield runner


@pytest.mark.parametrize("kind", ["asyncio", "dask"])
def test_the_context_is_pickled_once_per_run_and_unpickled_once_per_worker(
    kind: str, tmp_path: Path, dask2: DaskRunner, asyncio2: AsyncioRunner
) -> None:
    runner: Any = dask2 if kind == "dask" else asyncio2
    marks = tmp_path / "unpickled"
    context = counted_context(marks)
    Counted.pickled = 0
    first = by_slot(runner.run(context, some_tasks()))
    again = by_slot(runner.run(context, some_tasks()))
    assert sorted(first) == list(range(TASKS))
    assert Counted.pickled == 1  # once for both phases of the run, not once per task
    assert 1 <= unpickles(marks) <= 2  # once per worker process at most
    assert first == again

    # a new context (a new run) travels once more
    other = counted_context(marks)
    list(runner.run(other, some_tasks()))
    assert Counted.pickled == 2
    assert unpickles(marks) <= 4


def test_a_worker_keeps_the_last_two_contexts(tmp_path: Path) -> None:
    before = _travel.cached_tokens()
    contexts = [counted_context(tmp_path / f"u{i}") for i in range(3)]
    tokens = [_travel.new_token() for _ in contexts]
    blobs = [_travel.pack_context(c) for c in contexts]
    unit = _travel.pack_unit(some_tasks(1))
    try:
        for token, blob in zip(tokens, blobs, strict=True):
            _travel.run_packed(token, blob, unit)
            _travel.run_packed(token, blob, unit)  # kept: not unpickled again
        assert _travel.cached_tokens() == tokens[1:]
        assert [unpickles(tmp_path / f"u{i}") for i in range(3)] == [1, 1, 1]
        _travel.run_packed(tokens[0], blobs[0], unit)  # dropped: unpickled again
        assert unpickles(tmp_path / "u0") == 2
        assert _travel.cached_tokens() == [tokens[2], tokens[0]]
    finally:
        for token in tokens:
            _travel._contexts.pop(token, None)
    assert _travel.cached_tokens() == [t for t in before if t in _travel.cached_tokens()]


def test_dask_workers_keep_at_most_two_contexts(tmp_path: Path, dask2: DaskRunner) -> None:
    for i in range(4):
        list(dask2.run(counted_context(tmp_path / f"u{i}"), some_tasks(4)))
    kept = dask2.client.run(_travel.cached_tokens)
    assert kept
    assert all(len(tokens) <= _travel.CACHED_CONTEXTS for tokens in kept.values())


def test_a_context_that_cannot_be_unpickled_is_the_tasks_error_and_is_not_kept(
    tmp_path: Path,
) -> None:
    context = counted_context(tmp_path / "u")
    token = _travel.new_token()
    broken = _travel.pack_context(context)[:-5]
    unit = _travel.pack_unit(some_tasks(1))
    with pytest.raises(pickle.UnpicklingError):
        _travel.run_packed(token, broken, unit)
    assert token not in _travel.cached_tokens()


def test_dask_sends_the_context_again_when_the_workers_lost_it(
    tmp_path: Path, serial_run: Any
) -> None:
    with DaskRunner(workers=1, retries=0) as runner:
        context = counted_context(tmp_path / "u")
        Counted.pickled = 0
        first = by_slot(runner.run(context, some_tasks(4)))
        runner.client.restart()  # the workers and their data are gone
        again = by_slot(runner.run(context, some_tasks(4)))
        assert Counted.pickled == 1  # the plugin gives it to the new workers: not pickled again
        assert first == again
        assert sorted(again) == [0, 1, 2, 3]

        # a worker that joins later fetches the context when its first task needs it
        runner.cluster.scale(2)
        runner.client.wait_for_workers(2, timeout=60)
        list(runner.run(context, some_tasks(16)))
        store = MemoryStore()
        result = TAMS(FaultyOU, load_config(tables()), runner=runner, store=store).run()
    assert result == serial_run[0]
    assert Database(store).ensemble == serial_run[1].ensemble


def test_dask_tasks_carry_no_future_so_dask_places_them_by_free_threads(
    tmp_path: Path, dask2: DaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that depends on data is placed by dask's estimates, which at times queued part
    of an iteration's clones on one busy worker while others idled: the context is offered by
    a worker plugin instead, and a task's arguments are plain values."""
    from distributed import Future

    submitted: list[Any] = []
    original = dask2.client.map

    def spy(function: Any, *iterables: Any, **kwargs: Any) -> Any:
        submitted.extend(value for iterable in iterables for value in iterable)
        return original(function, *iterables, **kwargs)

    monkeypatch.setattr(dask2.client, "map", spy)
    results = by_slot(dask2.run(counted_context(tmp_path / "u"), some_tasks(4)))
    assert sorted(results) == [0, 1, 2, 3]
    assert len(submitted) == 8  # a token and a unit's bytes per task
    assert not any(isinstance(value, Future) for value in submitted)
    assert all(isinstance(value, (str, bytes)) for value in submitted)


def test_a_dask_worker_without_the_context_gets_it_again_and_no_retry_is_counted(
    tmp_path: Path,
) -> None:
    with DaskRunner(workers=1, retries=0) as runner:
        context = counted_context(tmp_path / "u")
        Counted.pickled = 0
        first = by_slot(runner.run(context, some_tasks(4)))
        assert runner._shipped is not None
        token = runner._shipped[1]
        runner.client.run(_travel.withdraw, token)  # the worker lost it; the plugin stays
        assert all(token not in kept for kept in runner.client.run(_travel.cached_tokens).values())
        again = by_slot(runner.run(context, some_tasks(4)))  # retries = 0: a counted one raises
        assert again == first
        assert Counted.pickled == 1  # offered again under a new token, not pickled again
        assert runner._shipped[1] != token


def test_withdrawing_the_dask_context_drops_it_from_the_workers(tmp_path: Path) -> None:
    with DaskRunner(workers=1, retries=0) as runner:
        list(runner.run(counted_context(tmp_path / "u"), some_tasks(2)))
        assert runner._shipped is not None
        token = runner._shipped[1]
        assert all(token in kept for kept in runner.client.run(_travel.cached_tokens).values())
        list(runner.run(counted_context(tmp_path / "v"), some_tasks(2)))  # a new run's context
        kept = runner.client.run(_travel.cached_tokens)
        assert all(token not in tokens for tokens in kept.values())
