"""What `pytams run` prints with a local dask cluster: one line per error, no dask chatter.

Each test runs the command in its own process (dask's worker processes write to the
terminal of the run, not to pytest's capture).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytams.core import load_config
from pytams.core.cli import main
from pytams.core.logs import THIRD_PARTY, OffTheTerminal, configure_logging, third_party_quiet
from tests.runners.models import MODELS_FILE, tables

CLI = [sys.executable, "-c", "import sys; from pytams.core.cli import main; sys.exit(main())"]


def write_input(
    folder: Path, *, workers: int = 1, tams: str = "", model: str = "", dask: str = ""
) -> Path:
    """A small FaultyOU run on local dask workers."""
    path = folder / "input.toml"
    path.write_text(
        f"[tams]\nntrajectories = 6\nseed = 11\nmax_iterations = 12\n{tams}\n"
        "[trajectory]\nend_time = 1.0\nstep_size = 0.05\ntarget_score = 1.0\n"
        f"[model]\ntheta = 1.0\nsigma = 1.0\nbarrier = 2.0\n{model}\n"
        f'[runner]\ntype = "dask"\nworkers = {workers}\nretries = 1\n'
        f"[dask]\n{dask}\n"
    )
    return path


def pytams_run(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [*CLI, "run", str(config), "--model", f"{MODELS_FILE}:FaultyOU", *extra]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, cwd=config.parent
    )


def dask_lines(text: str) -> list[str]:
    """The lines of dask's loggers (ours or distributed's own format) and tracebacks."""
    marks = ("distributed.", "tornado", "Traceback", "Nanny", "Worker process")
    return [line for line in text.splitlines() if any(m in line for m in marks)]


def test_a_misspelt_dask_key_is_one_error_line_naming_it_and_the_fix(tmp_path: Path) -> None:
    config = write_input(tmp_path, dask='memory_limt = "1GB"')
    done = pytams_run(config, "--quiet")
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("pytams: error:")]
    assert len(errors) == 1, done.stderr
    assert "[dask] memory_limt" in errors[0], errors[0]
    assert "memory_limit" in errors[0].partition("fix:")[2], errors[0]
    assert "Traceback" not in done.stderr
    assert len(lines) <= 2, done.stderr  # the error, and at most the database line


def test_a_local_dask_run_keeps_dask_logs_off_the_terminal_and_in_the_log_file(
    tmp_path: Path,
) -> None:
    # one task in three fails once (a retry): worker processes would log it
    (tmp_path / "faults").mkdir()
    config = write_input(
        tmp_path,
        tams='logfile = "tams.log"',
        model=f'fail_dir = "{tmp_path / "faults"}"\nfail_one_in = 3',
    )
    done = pytams_run(config, "--quiet")
    assert done.returncode in (0, 3), done.stderr
    assert list((tmp_path / "faults").iterdir()), "no fault was injected: the test proves nothing"
    assert dask_lines(done.stderr) == [], done.stderr
    log = (tmp_path / "tams.log").read_text()
    assert "INFO distributed.scheduler" in log, log[:2000]


@pytest.fixture
def interrupted(tmp_path: Path) -> Iterator[tuple[Path, str, int]]:
    """A run on dask sent Ctrl-C during its iterations: (input, its stderr, exit status)."""
    tams = 'kills_per_iteration = 2\n[database]\npath = "run.tams"\n'  # 2 workers busy: no warning
    config = write_input(tmp_path, workers=2, tams=tams, model="sleep = 0.01")
    command = [*CLI, "run", str(config), "--model", f"{MODELS_FILE}:FaultyOU"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        start_new_session=True,  # its own process group, as a terminal's job
    )
    stream = process.stderr
    assert isinstance(stream, io.BufferedReader)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(stream.read1, b"")))
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while b"iterations" not in b"".join(chunks) and time.monotonic() < deadline:
            assert process.poll() is None, b"".join(chunks).decode()
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        status = process.wait(timeout=60)
        reader.join(timeout=10)
        yield config, b"".join(chunks).decode(errors="replace"), status
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_ctrl_c_under_dask_prints_one_line_and_the_run_resumes(
    interrupted: tuple[Path, str, int],
) -> None:
    config, stderr, status = interrupted
    assert status == 130, stderr
    # progress bars aside (tqdm's lines, redrawn with \r), the only line is ours
    lines = [line for line in stderr.split("\n") if line.strip()]
    others = [line for line in lines if not line.startswith("pytams: database")]
    others = [line for line in others if "initial ensemble" not in line]
    others = [line for line in others if "iterations" not in line]
    assert others == ["pytams: interrupted"], stderr
    assert dask_lines(stderr) == [], stderr

    resumed = pytams_run(config, "--resume", "--quiet")
    assert resumed.returncode in (0, 3), resumed.stderr
    assert "Traceback" not in resumed.stderr, resumed.stderr


@pytest.fixture
def terminal() -> Iterator[logging.StreamHandler[Any]]:
    """The root logger with one terminal handler; logging put back as it was afterwards."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    others = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in THIRD_PARTY
    }
    handler: logging.StreamHandler[Any] = logging.StreamHandler(sys.stderr)
    root.handlers[:] = [handler]
    try:
        yield handler
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
        for name, (handlers, propagate) in others.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate


def test_configure_logging_filters_third_party_logs_unless_verbose(
    terminal: logging.StreamHandler[Any],
) -> None:
    config = load_config(tables())
    configure_logging(config)
    assert third_party_quiet()
    record = logging.LogRecord("distributed.nanny", logging.ERROR, "", 0, "x", None, None)
    assert not terminal.filter(record)
    own = logging.LogRecord("pytams.core", logging.INFO, "", 0, "x", None, None)
    assert terminal.filter(own)
    configure_logging(config, verbose=True)
    assert not third_party_quiet()
    assert terminal.filter(record)
    assert not [f for f in terminal.filters if isinstance(f, OffTheTerminal)]
    configure_logging(config)
    assert third_party_quiet()
    debug = tables()
    debug["tams"]["loglevel"] = "DEBUG"
    configure_logging(load_config(debug))
    assert not third_party_quiet()


@pytest.mark.parametrize(("flags", "quiet"), [((), True), (("-v",), False)])
def test_pytams_run_verbose_shows_third_party_logs(
    terminal: logging.StreamHandler[Any], tmp_path: Path, flags: tuple[str, ...], quiet: bool
) -> None:
    del terminal
    config = write_input(tmp_path)
    text = config.read_text().replace('type = "dask"', 'type = "serial"').replace("[dask]", "")
    config.write_text(text)
    model = f"{MODELS_FILE}:FaultyOU"
    assert main(["run", str(config), "--model", model, "--quiet", *flags]) in (0, 3)
    assert third_party_quiet() is quiet
