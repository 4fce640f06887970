"""The newcomer's path: paths and resume that cannot surprise, and the command's rough edges."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pytams.core.cli import main
from pytams.core.config import load_config
from pytams.core.errors import ConfigError
from pytams.core.template import model_template

INPUT = """[tams]
ntrajectories = 10
seed = 3
[trajectory]
end_time = 1.0
step_size = 0.05
target_score = 1.0
[model]
class = "walk.py:Walk"
"""


def write_case(folder: Path, extra: str = "", model: str | None = None) -> Path:
    """A tiny random-walk model and its input.toml in ``folder``; the input's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "walk.py").write_text(model or model_template("Walk"))
    config = folder / "input.toml"
    config.write_text(INPUT + extra)
    return config


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one ``pytams: error:`` line of stderr."""
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("pytams: error:")]
    assert len(lines) == 1
    return lines[0]


# ---------------------------------------------------------------------- paths


def test_file_paths_are_relative_to_the_input_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = '[database]\npath = "dw.tams"\n[dask]\nslurm_config_file = "jobqueue.yaml"\n'
    config = write_case(tmp_path / "work", extra)
    text = config.read_text().replace("[tams]\n", '[tams]\nlogfile = "tams.log"\n', 1)
    config.write_text(text)
    monkeypatch.chdir(tmp_path)
    loaded = load_config(Path("work/input.toml"))
    work = (tmp_path / "work").resolve()
    assert loaded.database.path == str(work / "dw.tams")
    assert loaded.tams.logfile == str(work / "tams.log")
    assert loaded.dask["slurm_config_file"] == str(work / "jobqueue.yaml")
    assert loaded.model_ref == f"{work / 'walk.py'}:Walk"


def test_command_line_and_mapping_paths_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_case(tmp_path / "work", '[database]\npath = "dw.tams"\n')
    monkeypatch.chdir(tmp_path)
    overridden = load_config(config, overrides=["database.path=here.tams"])
    assert Path(overridden.database.path or "").resolve() == (tmp_path / "here.tams").resolve()
    mapping = load_config(
        {
            "tams": {"ntrajectories": 5},
            "trajectory": {"end_time": 1.0, "step_size": 0.1, "target_score": 1.0},
            "database": {"path": "m.tams"},
        }
    )
    assert mapping.database.path == "m.tams"


def test_empty_set_clears_the_database_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_case(tmp_path / "work", '[database]\npath = "dw.tams"\n')
    assert load_config(config, overrides=["database.path="]).database.path is None
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(config), "--quiet", "--set", "database.path="]) == 0
    assert not (tmp_path / "work" / "dw.tams").exists()
    assert "pytams: database in memory" in capsys.readouterr().err


def test_resume_from_the_parent_folder_finds_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pytams.io")
    write_case(tmp_path / "work", '[database]\npath = "dw.tams"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", "work/input.toml", "--quiet"]) == 0
    database = (tmp_path / "work" / "dw.tams").resolve()
    assert f"pytams: database {database}" in capsys.readouterr().err
    assert main(["run", "work/input.toml", "--quiet", "--resume"]) == 0
    assert not (tmp_path / "dw.tams").exists()
    assert "no database" not in capsys.readouterr().err


# ---------------------------------------------------------------------- resume


def test_resume_without_a_database_says_so_and_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("pytams.io")
    config = write_case(tmp_path / "work", '[database]\npath = "dw.tams"\n')
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert main(["run", str(config), "--quiet", "--resume"]) == 0
    database = (tmp_path / "work" / "dw.tams").resolve()
    assert f"no database at {database}: starting a new run" in caplog.text
    assert database.is_dir()


def test_resume_with_overwrite_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_case(tmp_path)
    assert main(["run", str(config), "--quiet", "--resume", "--overwrite"]) == 2
    assert "--resume and --overwrite conflict" in error_line(capsys)
    with pytest.raises(ConfigError, match="conflicts with overwrite"):
        load_config(config, overrides=["database.resume=true", "database.overwrite=true"])


# ---------------------------------------------------------------------- rough edges


def test_broken_pipe_ends_quietly(tmp_path: Path) -> None:
    config = write_case(tmp_path)
    command = [sys.executable, "-m", "pytams.core.cli", "run", str(config), "--quiet"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # the reader leaves before the summary is printed (| head)
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert process.returncode == 141


@pytest.mark.parametrize("name", ["class", "9lives", "my-model", "np"])
def test_new_model_refuses_names_that_are_not_class_names(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new-model", name]) == 2
    assert repr(name) in error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def printed_command(out: str) -> list[str]:
    """The arguments of the ``then: pytams run ...`` line ``new-model`` printed."""
    line = next(x for x in out.splitlines() if x.startswith("then: pytams run"))
    return shlex.split(line.removeprefix("then: pytams "))


def test_new_model_writes_an_input_that_the_printed_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new-model", "MyModel", "--output", "sub/mymodel.py"]) == 0
    command = printed_command(capsys.readouterr().out)
    assert (tmp_path / "sub" / "input.toml").exists()
    tiny = ["--set", "tams.ntrajectories=10", "--quiet"]
    assert main([*command, *tiny]) == 0
    assert "probability" in capsys.readouterr().out

    kept = (tmp_path / "sub" / "input.toml").read_text()
    assert main(["new-model", "Other", "--output", "sub/other.py"]) == 0
    out = capsys.readouterr().out
    assert "not overwritten" in out
    assert (tmp_path / "sub" / "input.toml").read_text() == kept
    assert main([*printed_command(out), *tiny]) == 0


def test_misspelt_set_key_names_set_as_the_origin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_case(tmp_path)
    assert main(["run", str(config), "--quiet", "--set", "tams.ntrajectorie=5"]) == 2
    line = error_line(capsys)
    assert line.startswith("pytams: error: --set tams.ntrajectorie=5: unknown key")
    assert "did you mean 'ntrajectories'" in line
    assert str(config) not in line
    assert main(["run", str(config), "--quiet", "--set", "tams.ntrajectories=1"]) == 2
    assert error_line(capsys).startswith("pytams: error: --set tams.ntrajectories=1:")


FAILING = """
from pytams.core import ForwardModel


class Walk(ForwardModel):
    def _setup(self, params):
        self.x = 0.0

    def _advance(self, dt, noise):
        raise ZeroDivisionError("boom")  # line 10

    def _get_state(self):
        return self.x

    def _set_state(self, state):
        self.x = state

    def _score(self):
        return self.x

    def _make_noise(self, rng):
        return rng.standard_normal()
"""


def test_model_error_names_where_it_was_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_case(tmp_path, model=FAILING)
    assert main(["run", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ZeroDivisionError: boom (raised at walk.py:10 in _advance)" in err
    assert "Traceback" not in err
    assert main(["run", str(config), "--quiet", "--traceback"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert 'raise ZeroDivisionError("boom")' in err


def test_inspect_an_input_file_inspects_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pytams.io")
    in_memory = write_case(tmp_path / "memory")
    assert main(["inspect", str(in_memory)]) == 2
    assert "is an input file" in error_line(capsys)
    config = write_case(tmp_path / "work", '[database]\npath = "dw.tams"\n')
    assert main(["inspect", str(config)]) == 2
    line = error_line(capsys)
    assert "is an input file" in line
    assert "does not exist yet" in line
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(config), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(config)]) == 0
    assert str((tmp_path / "work" / "dw.tams").resolve()) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "overrides", "blamed"),
    [
        ("", ["trajectory.step_size=2.0"], "step_size"),
        ("", ["tams.max_iterations=-1"], "max_iterations"),
        ("", ["tams.kills_per_iteration=10"], "kills_per_iteration"),
        ("min_score = 1.5\n", ['tams.variant="ams"'], "min_score"),
    ],
)
def test_meaningless_settings_are_refused_at_load_time(
    tmp_path: Path, extra: str, overrides: list[str], blamed: str
) -> None:
    config = write_case(tmp_path)
    config.write_text(config.read_text().replace("[model]", extra + "[model]"))
    with pytest.raises(ConfigError, match=blamed):
        load_config(config, overrides=overrides)
