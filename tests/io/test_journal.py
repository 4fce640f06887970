"""tams.nc grows by journal files, rewritten whole only at compaction points (issue 14).

Each iteration appends one small file, ``journal/<index>.nc``; ``tams.nc`` is rewritten at
the start, at compaction points (`pytams.io._journal.compaction_due`) and when the run stops,
so the bytes written per iteration do not grow with N or with the iterations done. Crash
safety and bitwise resume with journal files: `tests/io/test_resume.py` (every state of a run
on disk, kills inside writes and at random instants).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, IterationRecord, MemoryStore
from pytams.io import NetCDFStore, open_database
from pytams.io._journal import compaction_due
from tests.io.ou import ou_config


def counted_run(
    path: Path, monkeypatch: pytest.MonkeyPatch, n: int
) -> tuple[Counter[str], Counter[str], int]:
    """A k = 1 run: (files committed, bytes committed) per kind of file, and its iterations."""
    from pytams.io import _files

    files: Counter[str] = Counter()
    size: Counter[str] = Counter()
    commit = _files.commit

    def counting_commit(tmp: Path, target: Path) -> None:
        kind = target.parent.name if target.name != "tams.nc" else "tams.nc"
        files[kind] += 1
        size[kind] += tmp.stat().st_size
        commit(tmp, target)

    monkeypatch.setattr(_files, "commit", counting_commit)
    config = ou_config(path, ntrajectories=n, max_iterations=600)
    config["model"]["barrier"] = 4.0  # far: the run stops at max_iterations
    result = TAMS(None, config).run()
    monkeypatch.setattr(_files, "commit", commit)
    return files, size, result.iterations


@pytest.mark.parametrize("n", [100, 2_000])
def test_an_iteration_appends_a_journal_file_and_tams_nc_is_rewritten_rarely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    files, size, iterations = counted_run(tmp_path / "run.tams", monkeypatch, n)
    assert iterations == 600
    # the metadata, iteration 0 (with the initial ensemble), the compactions, the outcome
    assert files["tams.nc"] <= 4 + compactions(iterations, n), files
    assert files["journal"] == iterations - 1 - compactions(iterations, n), files
    per_iteration = (size["tams.nc"] + size["journal"]) / iterations
    journal_file = size["journal"] / files["journal"]
    # what rewriting tams.nc every iteration would cost: its final size
    final_main = (tmp_path / "run.tams" / "tams.nc").stat().st_size
    print(n, dict(files), dict(size), per_iteration, journal_file, final_main)
    assert per_iteration <= 3 * journal_file + final_main / 50
    assert per_iteration < final_main / 5
    assert not list((tmp_path / "run.tams" / "journal").glob("*.nc"))  # tams.nc holds all


def compactions(iterations: int, n: int) -> int:
    """The compaction points of a run: iterations 1 to J - 1 journal or compact."""
    in_main, journaled, count = 1, 0, 0
    for j in range(1, iterations):
        if compaction_due(journaled, in_main, n):
            count, in_main, journaled = count + 1, j + 1, 0
        else:
            journaled += 1
    return count


def test_compaction_points_grow_with_the_run() -> None:
    assert not compaction_due(99, 0, 16)
    assert compaction_due(100, 0, 16)
    assert not compaction_due(2_000, 10_000, 16)  # a quarter of the iterations in tams.nc
    assert compaction_due(2_500, 10_000, 16)
    assert not compaction_due(150, 0, 20_000)  # N / 100
    assert compaction_due(200, 0, 20_000)


def test_a_database_with_journal_files_reads_as_the_run_went(tmp_path: Path) -> None:
    path = tmp_path / "run.tams"
    stopped = TAMS(None, ou_config(path, max_iterations=30)).run()
    reference = TAMS(None, ou_config(None, max_iterations=30), store=MemoryStore()).run()
    assert stopped == reference
    expected = reference.database
    assert expected is not None
    store = NetCDFStore(path)
    last = expected.iterations[-1]
    journaled = IterationRecord(  # as if the run went on and was killed after journaling
        index=30, level=last.level, killed=(), parents=(), weight=last.weight
    )
    store.append_iteration(journaled)
    store.flush()
    assert sorted(p.name for p in (path / "journal").glob("*.nc")) == ["000000030.nc"]
    db = open_database(path)
    assert db.iterations == [*expected.iterations, journaled]
    assert db.member_keys == expected.member_keys


def test_a_reader_that_meets_a_compaction_sees_an_earlier_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compaction deletes journal files that a reader of the running database has listed:
    the reader stops at the gap (the run's state before that file), with no error."""
    from pytams.io import _files, _journal

    path = tmp_path / "run.tams"
    TAMS(None, ou_config(path, max_iterations=30)).run()
    store = NetCDFStore(path)
    last = store.read_iterations()[-1]
    for index in (30, 31):
        store.append_iteration(
            IterationRecord(index=index, level=last.level, killed=(), parents=(), weight=1.0)
        )
    store.flush()
    opening = _files.open_for_reading  # what _journal opens its files with

    def deleted_meanwhile(file: Path, what: str, fix: str) -> Any:
        if file.name == "000000031.nc":
            file.unlink()  # as a compaction of the running database does
        return opening(file, what, fix)

    monkeypatch.setattr(_journal, "open_for_reading", deleted_meanwhile)
    db = open_database(path)
    assert [r.index for r in db.iterations][-2:] == [29, 30]
