"""Start-up cost of the ``pytams`` command: CPU of ``--help`` and of a tiny run, over numpy's.

Each command runs in a child process; its CPU time (user + sys, from the children's rusage)
is the best of several runs. Prints the CPU of ``python -c "import numpy"`` (the floor: every
command imports numpy), of ``pytams --help`` and of ``pytams run`` of a tiny input (the
Brownian example, 20 trajectories, in memory), measured in the same run, and what the
commands cost on top of numpy's import. Target: <= 0.3 s each on top of numpy's import.

The children run as an installed ``pytams`` does, with the compiled bytecode cached: in a
temporary ``PYTHONPYCACHEPREFIX`` (nothing written beside the sources), filled by one
untimed run of each command, even where ``PYTHONDONTWRITEBYTECODE`` is set (there, each
start would compile every module again, numpy's included).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = 0.3  # seconds of CPU on top of ``python -c "import numpy"``
ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "examples" / "brownian" / "input.toml"


def pytams_command() -> list[str]:
    """The ``pytams`` script beside this Python (as a user runs it), else ``-m``."""
    script = Path(sys.executable).parent / ("pytams.exe" if os.name == "nt" else "pytams")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pytams.core.cli"]


def child_cpu(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """CPU seconds (user + sys) of one run of ``command`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        msg = f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}"
        raise RuntimeError(msg)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(repeats: int, command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """The least CPU of ``repeats`` runs, after one untimed run (which fills the cache)."""
    child_cpu(command, cwd, env)
    return min(child_cpu(command, cwd, env) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pytams = pytams_command()
    tiny = [str(TINY), "--set", "tams.ntrajectories=20", "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)  # nothing written: the run's database is in memory
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
        numpy_cpu = best_of(args.repeats, [sys.executable, "-c", "import numpy"], cwd, env)
        help_cpu = best_of(args.repeats, [*pytams, "--help"], cwd, env)
        run_cpu = best_of(args.repeats, [*pytams, "run", *tiny], cwd, env)
    print(f"[start] CPU, best of {args.repeats} child processes (user + sys, bytecode cached)")
    print(f"[start] python -c 'import numpy'       : {numpy_cpu:6.3f} s")
    for label, cpu in (("pytams --help", help_cpu), ("pytams run (tiny, in memory)", run_cpu)):
        extra = cpu - numpy_cpu
        verdict = "met" if extra <= TARGET else "MISSED"
        print(
            f"[start] {label:<31}: {cpu:6.3f} s, {extra:+6.3f} s over numpy "
            f"(target <= {TARGET}: {verdict})"
        )


if __name__ == "__main__":
    main()
