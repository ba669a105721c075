"""Running the real ``talaria`` command in a subprocess with an isolated home."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from talaria.secrets import is_secret_name


def cli_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TALARIA_") and not is_secret_name(k)
    }
    env["TALARIA_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def talaria(
    args: Sequence[str],
    home: Path,
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "talaria", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(home, env),
        cwd=cwd,
        timeout=timeout,
    )


def spawn(args: Sequence[str], home: Path, *, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "talaria", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(home),
        cwd=cwd,
    )
