"""A third-party package (tests/plugins/pytams-testplugin) registers a runner and a store
through entry points; pytams finds them by name, and they run TAMS like ours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, ConfigError, load_config, plugins
from pytams.core.cli import main

pytest.importorskip("pytams_testplugin", reason="nox -s tests installs the test plugin")


def tables(**sections: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tams": {"ntrajectories": 12, "seed": 5},
        "trajectory": {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0},
        "model": {"class": "pytams.models.ornstein_uhlenbeck:OrnsteinUhlenbeck", "barrier": 1.5},
    }
    for name, table in sections.items():
        base[name] = {**base.get(name, {}), **table}
    return base


def test_the_registry_lists_the_third_party_plugins() -> None:
    assert "threads" in plugins.installed(plugins.RUNNERS)
    assert "pickledir" in plugins.installed(plugins.STORES)


def test_a_third_party_runner_and_store_run_tams(tmp_path: Path) -> None:
    from pytams_testplugin import PickleDirStore, ThreadRunner

    ours = TAMS(None, tables()).run()
    config = load_config(
        tables(
            runner={"type": "threads", "workers": 2},
            database={"engine": "pickledir", "path": str(tmp_path / "db")},
        )
    )
    assert isinstance(plugins.make_runner(config), ThreadRunner)
    assert isinstance(plugins.make_store(config, 0), PickleDirStore)
    theirs = TAMS(None, config).run()
    assert theirs == ours
    assert theirs.levels == ours.levels
    assert (tmp_path / "db" / "metadata.pickle").is_file()
    # and it resumes like ours: a second run reads the finished run back
    again = TAMS(
        None,
        load_config(
            tables(
                runner={"type": "threads", "workers": 2},
                database={"engine": "pickledir", "path": str(tmp_path / "db"), "resume": True},
            )
        ),
    ).run()
    assert again == ours


def test_an_unknown_plugin_lists_what_is_installed() -> None:
    known = r"did you mean 'threads'.*asyncio, dask, serial, threads"
    with pytest.raises(ConfigError, match=known):
        load_config(tables(runner={"type": "thread"}))
    with pytest.raises(ConfigError, match="netcdf, pickledir"):
        load_config(tables(database={"engine": "sqlite", "path": "x"}))


def test_the_command_line_runs_with_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input.toml"
    path.write_text(
        "[tams]\nntrajectories = 12\nseed = 5\n"
        "[trajectory]\nend_time = 1.0\nstep_size = 0.02\ntarget_score = 1.0\n"
        '[runner]\ntype = "threads"\nworkers = 2\n'
        f'[database]\nengine = "pickledir"\npath = "{tmp_path / "db"}"\n'
        '[model]\nclass = "pytams.models.ornstein_uhlenbeck:OrnsteinUhlenbeck"\nbarrier = 1.5\n'
    )
    assert main(["run", str(path), "--quiet"]) == 0
    assert "probability" in capsys.readouterr().out
