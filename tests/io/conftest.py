"""Fixtures of the io tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KILLABLE = HERE / "killable.py"


def write_toml(path: Path, config: dict[str, Any]) -> Path:
    """A TOML file of a config mapping (tables of scalars and one nested model table)."""
    lines = []
    for section, table in config.items():
        lines.append(f"[{section}]")
        for key, value in table.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def pytams_command(*arguments: str | Path, kill_at: int = 0, phase: str = "partial") -> list[str]:
    """The command running ``pytams`` through killable.py (killed at write ``kill_at`` > 0)."""
    return [sys.executable, str(KILLABLE), str(kill_at), phase, "--", *map(str, arguments)]


def pytams(
    *arguments: str | Path, kill_at: int = 0, phase: str = "partial", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``pytams`` in a subprocess (through killable.py), capturing its output."""
    command = pytams_command(*arguments, kill_at=kill_at, phase=phase)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
