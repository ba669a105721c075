"""Inspecting process groups (Linux ``/proc``), for tests and benchmarks that prove
no tool process outlived an interrupt."""

from __future__ import annotations

from pathlib import Path


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose process group is ``pgid``."""
    out: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces, so split after ')'
        rest = stat.rsplit(")", 1)[1].split()
        if int(rest[2]) == pgid:
            out.append((int(entry.name), rest[0]))
    return out


def group_alive(pgid: int) -> bool:
    """True if any non-zombie process remains in the group.

    Zombies are dead, merely unreaped: PID 1 in containers often does not reap
    orphans, so a killed grandchild may linger in state Z.
    """
    return any(state not in ("Z", "X") for _, state in group_members(pgid))
