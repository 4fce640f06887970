"""The run's outcome, stored when it stops: the one source of `run_status` and ``inspect``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, Database, MemoryStore, StorageError
from pytams.core.cli import main
from pytams.core.database import FORMAT_VERSION
from pytams.core.tams import Progress
from pytams.io import NetCDFStore, open_database
from tests.io.ou import MODEL_REF, OrnsteinUhlenbeck, ou_config

OUTCOME_KEYS = {
    "stop_reason",
    "probability",
    "std_error",
    "ci_low",
    "ci_high",
    "iterations",
    "converged",
    "model_steps",
    "wall_time",
    "complete",
}
INTERRUPTED = {"stop_reason": "interrupted", "complete": False}


class Clipped(OrnsteinUhlenbeck):
    """Scores never rise above the start's: every trajectory ties, the first level is extinct."""

    def _score(self) -> float:
        return min(super()._score(), 0.0)


def same(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Equal dictionaries, NaN equal to NaN."""
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


def stop_at(iteration: int, action: Any) -> Any:
    """A progress callback that calls ``action()`` once, after iteration ``iteration``."""
    done: list[int] = []

    def progress(event: Progress) -> None:
        if event.phase == "iteration" and event.iteration == iteration and not done:
            done.append(iteration)
            action()

    return progress


def interrupt() -> None:
    raise KeyboardInterrupt


def inspect_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["inspect", str(path), "--json"]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def toml(tables: dict[str, dict[str, Any]]) -> str:
    """The TOML of simple tables (strings and numbers)."""
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- the stored outcome
@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({}, "target_reached"),
        ({"max_iterations": 5}, "max_iterations"),
        ({"nsplititer": 4}, "max_kills"),  # pyTAMS key, stored as max_kills
        ({"sampler": "montecarlo"}, "montecarlo"),
    ],
)
def test_a_run_stores_its_outcome(tmp_path: Path, settings: dict[str, Any], reason: str) -> None:
    result = TAMS(None, ou_config(tmp_path / "run.tams", **settings)).run()
    assert result.stop_reason == reason
    db = open_database(tmp_path / "run.tams")
    assert set(db.outcome or {}) == OUTCOME_KEYS
    assert db.outcome == result.outcome()
    assert db.outcome["stop_reason"] == reason
    assert db.outcome["complete"] is True
    status = db.status()
    assert status.stop_reason == reason
    assert status.complete
    assert (status.estimate, status.std_error) == (result.probability, result.std_error)
    assert (status.ci_low, status.ci_high) == (result.ci_low, result.ci_high)


def test_the_status_reads_the_stored_reason_not_the_config(tmp_path: Path) -> None:
    """An extinction is read back as stored: no stop rule runs again on the ensemble."""
    store = MemoryStore()
    result = TAMS(Clipped, ou_config(None), store=store).run()
    assert result.stop_reason == "extinction"
    from pytams.io import run_status

    assert run_status(Database(store)).state == "finished: extinction"
    metadata = store.read_metadata() or {}
    metadata["outcome"] = {**metadata["outcome"], "stop_reason": "max_iterations"}
    store.write_metadata(metadata)
    assert run_status(Database(store)).state == "finished: max iterations"
    del metadata["outcome"]
    store.write_metadata(metadata)
    status = run_status(Database(store))
    assert status.state == "running (or killed)"
    assert math.isnan(status.estimate)


def test_a_walltime_stop_is_stored_and_resuming_overwrites_it(tmp_path: Path) -> None:
    path = tmp_path / "run.tams"
    config = ou_config(path, walltime=1.0)
    result = TAMS(None, config, progress=stop_at(2, lambda: time.sleep(1.05))).run()
    assert result.stop_reason == "walltime"
    db = open_database(path)
    assert db.outcome is not None
    assert same(db.outcome, result.outcome())
    assert db.outcome["complete"] is False
    status = db.status()
    assert status.state == "stopped: walltime"
    assert not status.complete
    assert math.isnan(status.estimate)
    assert math.isnan(status.std_error)
    del config["tams"]["walltime"]
    config["database"]["resume"] = True
    finished = TAMS(None, config).run()
    assert finished.stop_reason == "target_reached"
    assert open_database(path).outcome == finished.outcome()
    assert open_database(path).status().state == "finished: target reached"


def test_an_interrupt_is_recorded_and_the_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.tams"
    config = ou_config(path)
    with pytest.raises(KeyboardInterrupt):
        TAMS(None, config, progress=stop_at(3, interrupt)).run()
    db = open_database(path)
    assert db.outcome == INTERRUPTED
    status = db.status()
    assert status.state == "interrupted"
    assert status.stop_reason == "interrupted"
    assert math.isnan(status.estimate)
    assert status.iterations >= 3
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "status       interrupted" in out
    assert "estimate" not in out
    config["database"]["resume"] = True
    resumed = TAMS(None, config).run()
    assert resumed == TAMS(None, ou_config(None)).run()  # bit for bit
    assert open_database(path).outcome == resumed.outcome()


def test_a_resumed_run_clears_its_outcome_while_it_runs() -> None:
    store = MemoryStore()
    first = TAMS(None, ou_config(None, max_iterations=3), store=store).run()
    assert Database(store).outcome == first.outcome()
    seen: list[dict[str, Any] | None] = []

    def progress(event: Progress) -> None:
        seen.append(Database(store).outcome)

    config = ou_config(None, max_iterations=6)
    config["database"] = {"resume": True}
    second = TAMS(None, config, store=store, progress=progress).run()
    assert second.iterations == 6
    assert seen
    assert seen == [None] * len(seen)
    assert Database(store).outcome == second.outcome()


def test_each_repeat_stores_its_own_outcome(tmp_path: Path) -> None:
    path = tmp_path / "runs"
    result = TAMS(None, ou_config(path, repeats=2, max_iterations=6)).run()
    assert len(result.repeats) == 2
    for index, one in enumerate(result.repeats):
        db = open_database(path / f"repeat-{index:04d}")
        assert db.outcome == one.outcome()
    first, second = (open_database(path / f"repeat-{i:04d}").outcome for i in (0, 1))
    assert first != second


# ---------------------------------------------------------------------- format versions
def test_a_newer_format_is_refused_naming_both_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.tams"
    TAMS(None, ou_config(path, max_iterations=2)).run()
    store = NetCDFStore(path)
    newer = FORMAT_VERSION + 1
    store.write_metadata({**(store.read_metadata() or {}), "format_version": newer})
    store.flush()
    message = rf"format version {newer}.*versions up to {FORMAT_VERSION}.*upgrade pytams"
    with pytest.raises(StorageError, match=message):
        open_database(path)
    config = ou_config(path, max_iterations=4)
    config["database"]["resume"] = True
    with pytest.raises(StorageError, match=message):
        TAMS(None, config).run()
    assert main(["inspect", str(path)]) == 2
    assert "upgrade pytams" in capsys.readouterr().err
    memory = MemoryStore()
    memory.write_metadata({"format_version": newer})
    with pytest.raises(StorageError, match=message):
        Database(memory)


def test_the_current_and_older_formats_open(tmp_path: Path) -> None:
    path = tmp_path / "run.tams"
    TAMS(None, ou_config(path, max_iterations=2)).run()
    assert (open_database(path).metadata or {})["format_version"] == FORMAT_VERSION
    memory = MemoryStore()
    memory.write_metadata({"format_version": FORMAT_VERSION - 1})
    assert Database(memory).metadata == {"format_version": FORMAT_VERSION - 1}


# ---------------------------------------------------------------------- pytams inspect
def test_inspect_json_has_the_keys_and_values_of_run_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.tams"
    config = ou_config(path)
    config["model"]["class"] = MODEL_REF
    (tmp_path / "input.toml").write_text(toml(config))
    out = tmp_path / "run.json"
    assert main(["run", str(tmp_path / "input.toml"), "--json", str(out), "--quiet"]) == 0
    ran = json.loads(out.read_text())
    inspected = inspect_json(path, capsys)
    assert set(inspected) == set(ran) | {"state"}
    assert "exceedance_curve" in inspected
    assert {key: inspected[key] for key in ran} == ran
    assert inspected["state"] == "finished: target reached"


@pytest.mark.parametrize(
    ("model", "settings"),
    [
        (Clipped, {}),  # extinction: the run reports the extinct level too
        (None, {"max_iterations": 4, "kills_per_iteration": 3}),
        (None, {"sampler": "montecarlo"}),
    ],
)
def test_inspect_json_equals_the_result_of_the_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: type[Any] | None,
    settings: dict[str, Any],
) -> None:
    path = tmp_path / "run.tams"
    result = TAMS(model, ou_config(path, **settings)).run()
    ran = json.loads(result.to_json(curve=True))
    inspected = inspect_json(path, capsys)
    assert set(inspected) == set(ran) | {"state"}
    assert {key: inspected[key] for key in ran} == ran


def test_inspect_json_of_an_incomplete_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.tams"
    with pytest.raises(KeyboardInterrupt):
        TAMS(None, ou_config(path), progress=stop_at(2, interrupt)).run()
    summary = inspect_json(path, capsys)
    assert summary["state"] == "interrupted"
    assert summary["stop_reason"] == "interrupted"
    assert summary["complete"] is False
    for key in ("probability", "std_error", "ci_low", "ci_high"):
        assert summary[key] is None
    assert "exceedance_curve" not in summary
    db = open_database(path)
    assert summary["iterations"] == len(db.iterations) >= 2
    assert summary["levels"] == [record.level for record in db.iterations]
    assert summary["seed"] == 11
    assert summary["ntrajectories"] == 16


def test_inspect_prints_the_error_bar_of_a_stored_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.tams"
    result = TAMS(None, ou_config(path, max_iterations=20)).run()
    capsys.readouterr()
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "status       finished: max iterations" in out
    assert f"estimate     {result.probability:.6g}" in out
    assert f"std error    {result.std_error:.3g}" in out
    assert f"95% CI       [{result.ci_low:.4g}, {result.ci_high:.4g}]" in out


def test_a_failed_run_is_recorded_and_resumes_once_fixed(tmp_path: Path) -> None:
    path = tmp_path / "run.tams"
    config = ou_config(path)

    def fail() -> None:
        raise RuntimeError("the disk is full")

    with pytest.raises(RuntimeError, match="the disk is full"):
        TAMS(None, config, progress=stop_at(3, fail)).run()
    db = open_database(path)
    assert db.outcome == {
        "stop_reason": "failed",
        "complete": False,
        "error": "RuntimeError: the disk is full",
    }
    assert db.status().state == "failed: RuntimeError: the disk is full (resumable once fixed)"
    config["database"]["resume"] = True
    resumed = TAMS(None, config).run()
    assert resumed == TAMS(None, ou_config(tmp_path / "clean.tams")).run()
    assert open_database(path).status().state == "finished: target reached"


def test_a_refused_database_is_left_as_it_was(tmp_path: Path) -> None:
    """A run that may not open an existing database records nothing in it."""
    path = tmp_path / "run.tams"
    TAMS(None, ou_config(path)).run()
    before = open_database(path).metadata
    with pytest.raises(StorageError):
        TAMS(None, ou_config(path)).run()  # neither resume nor overwrite
    assert open_database(path).metadata == before


def test_a_format_1_database_without_an_outcome_says_it_cannot_know(tmp_path: Path) -> None:
    path = tmp_path / "run.tams"
    TAMS(None, ou_config(path)).run()
    store = NetCDFStore(path)
    metadata = store.read_metadata() or {}
    del metadata["outcome"]
    store.write_metadata({**metadata, "format_version": 1})  # as pytams wrote it before
    del store
    assert open_database(path).status().state.startswith("unknown (format 1 does not record")
