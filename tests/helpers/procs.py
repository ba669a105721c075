"""Inspecting processes from tests (Linux /proc)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from talaria.testing.procs import group_alive, group_members

__all__ = ["group_alive", "group_members", "read_pid", "wait_until"]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def read_pid(path: Path, timeout: float = 10.0) -> int:
    assert wait_until(lambda: path.exists() and path.read_text().strip() != "", timeout), (
        f"{path} never appeared"
    )
    return int(path.read_text().strip())
