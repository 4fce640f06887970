"""The README's commands, run literally in a fresh clone where only Python is installed.

The first command of the README's "Two commands" block runs as written (with the `python3` on
PATH, and again with an externally managed (PEP 668) system Python when the machine has one);
then every example runs with the first command its README gives, at a small size, in the
shell the first command left (its venv active). The test command runs with `nox -s tests`
swapped for `nox --list`: it is CI's own session, not run again from inside one.
Run by `nox -s readme`; skipped otherwise (tests/readme/conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

pytestmark = pytest.mark.readme

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/README.md"))
SMALL = "--set tams.ntrajectories=20"
TEST_COMMAND = "nox -s tests"
# the nox session's own variables: the README's commands run as on a fresh machine
DROPPED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CONDA_PREFIX")
# the fresh tree, its environment, and how the README's first command ended there
Installed = tuple[Path, dict[str, str], subprocess.CompletedProcess[str]]


class Background(NamedTuple):
    """A README command running in the background: the process, its log, its environment."""

    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]


def readme_commands(text: str) -> list[str]:
    """The commands of the README's "Two commands" code block, comments and blanks dropped."""
    section = text.split("## Two commands", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = (line.strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def example_command(text: str) -> str:
    """The first indented `pytams ...` command of an example's README, continuations joined."""
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("    pytams "):
            command = line.strip()
            while command.endswith("\\"):
                command = f"{command[:-1].rstrip()} {next(lines).strip()}"
            return command
    raise AssertionError("no indented `pytams ...` command in the README")


def fresh_tree(dest: Path) -> Path:
    """A clone of HEAD if the work tree is clean, else a copy of every file git does not ignore."""
    status = _git("status", "--porcelain")
    if not status.strip():
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True)
        return dest
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout


def fresh_env(python3: Path | None = None) -> dict[str, str]:
    """This environment minus the nox session's venv; `python3` first on PATH if given."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in DROPPED and not key.startswith("NOX_")
    }
    session_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != session_bin]
    if python3 is not None:
        path.insert(0, str(python3.parent))
    env["PATH"] = os.pathsep.join(path)
    return env


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one line in bash, as a user types it."""
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def explain(command: str, done: subprocess.CompletedProcess[str]) -> str:
    """The failed command and the end of its output."""
    tail = (done.stdout + done.stderr)[-3000:]
    return f"`{command}` exited with {done.returncode}:\n{tail}"


def externally_managed_python() -> Path | None:
    """A system `python3` (3.10+) that refuses `pip install` (PEP 668), if this machine has one."""
    for candidate in (Path("/usr/bin/python3"), Path("/usr/local/bin/python3")):
        if not candidate.exists():
            continue
        probe = subprocess.run(
            [
                str(candidate),
                "-c",
                "import sys, sysconfig, ensurepip; "
                "print(sys.version_info >= (3, 10), sysconfig.get_path('stdlib'))",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        ok, _, stdlib = probe.stdout.strip().partition(" ")
        marker = Path(stdlib) / "EXTERNALLY-MANAGED"
        if probe.returncode == 0 and ok == "True" and marker.exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def commands() -> list[str]:
    found = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(found) == 2, f"the README's 'Two commands' block holds {found}"
    return found


@pytest.fixture(scope="module")
def on_system_python(
    commands: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Background | None]:
    """The first command with a PEP 668 python3, in its own tree, started now in the background
    (it mostly waits on the package index: it overlaps the other tests); its log file."""
    system = externally_managed_python()
    if system is None:
        yield None
        return
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python3").symlink_to(system)
    tree = fresh_tree(tmp_path_factory.mktemp("pep668") / "pytams")
    log = tree.parent / "first-command.log"
    env = fresh_env(bin_dir / "python3")
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", commands[0]],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: pip's children end with it
        )
    yield Background(process, log, env)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def installed(
    commands: list[str],
    tmp_path_factory: pytest.TempPathFactory,
    on_system_python: Background | None,
) -> Installed:
    """A fresh tree where the README's first command ran (with the `python3` on PATH)."""
    del on_system_python  # started first, so that it runs meanwhile
    tree = fresh_tree(tmp_path_factory.mktemp("readme") / "pytams")
    env = fresh_env()
    return tree, env, shell(commands[0], tree, env)


def test_the_first_command_runs_the_brownian_example(
    commands: list[str],
    installed: Installed,
) -> None:
    _, _, done = installed
    assert done.returncode == 0, explain(commands[0], done)
    assert "examples/brownian/input.toml" in commands[0]
    assert re.search(r"^probability\s+[0-9.]+(e-\d+)?\s", done.stdout, re.MULTILINE), done.stdout


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_runs_with_its_readme_command(name: str, installed: Installed) -> None:
    tree, env, done = installed
    assert done.returncode == 0, "the README's first command failed"
    command = example_command((tree / "examples" / name / "README.md").read_text(encoding="utf-8"))
    if "tams.ntrajectories" not in command:
        command = f"{command} {SMALL}"
    ran = shell(f". .venv/bin/activate && {command}", tree, env)
    assert ran.returncode == 0, explain(command, ran)


def test_every_subcommand_is_there(
    installed: Installed,
) -> None:
    tree, env, done = installed
    assert done.returncode == 0, "the README's first command failed"
    ran = shell(". .venv/bin/activate && pytams --help && python -c 'import matplotlib'", tree, env)
    assert ran.returncode == 0, explain("pytams --help", ran)
    for subcommand in ("run", "new-model", "compare", "inspect", "plot"):
        assert subcommand in ran.stdout, subcommand


def test_the_test_command_installs_nox(
    commands: list[str],
    installed: Installed,
) -> None:
    tree, env, _ = installed
    assert commands[1].endswith(TEST_COMMAND), commands[1]
    command = commands[1].removesuffix(TEST_COMMAND) + "nox --list"
    ran = shell(command, tree, env)
    assert ran.returncode == 0, explain(command, ran)
    assert re.search(r"^\* tests\b", ran.stdout, re.MULTILINE), ran.stdout


def test_the_first_command_on_an_externally_managed_python(
    commands: list[str],
    on_system_python: Background | None,
) -> None:
    if on_system_python is None:
        pytest.skip("no externally managed (PEP 668) python3 3.10+ with venv on this machine")
    process, log, env = on_system_python
    refused = shell("python3 -m pip install --dry-run uv", log.parent, env)
    assert "externally-managed-environment" in refused.stdout + refused.stderr
    status = process.wait()
    output = log.read_text()
    assert status == 0, f"`{commands[0]}` exited with {status}:\n{output[-3000:]}"
    assert re.search(r"^probability\s+", output, re.MULTILINE), output[-3000:]
