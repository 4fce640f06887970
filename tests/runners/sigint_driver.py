"""A TAMS run in its own process, for the Ctrl-C test: prints progress, writes the result.

python sigint_driver.py KIND WORKERS DB_PATH RESULT_JSON [--resume]

The environment variable PYTAMS_TEST_DASK may hold the [dask] table as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytams.core import TAMS, Progress, load_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.runners.models import MODELS_FILE, tables  # noqa: E402


def start(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start this driver (``command``) in its own process group; return at iteration 2.

    The test then sends the group a signal as a terminal's Ctrl-C would.
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("iteration 2"):
            return process
    msg = f"the driver ended before iteration 2 (exit {process.wait()})"
    raise AssertionError(msg)


def report(progress: Progress) -> None:
    print(f"{progress.phase} {progress.iteration} {progress.done}", flush=True)


def main() -> None:
    kind, workers, db, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    dask = json.loads(os.environ.get("PYTAMS_TEST_DASK", "null"))
    config = tables(runner=kind, workers=workers, model={"sleep": 0.002}, dask=dask)
    config["database"] = {"path": db, "resume": "--resume" in sys.argv}
    result = TAMS(f"{MODELS_FILE}:FaultyOU", load_config(config), progress=report).run()
    Path(out).write_text(result.to_json())
    print("done", flush=True)


if __name__ == "__main__":
    main()
