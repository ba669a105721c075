"""Is the process that wrote a ``running`` session still alive?

A pid alone is not enough: pids are reused, so a session left ``running`` by a
process that died last week could look alive because an unrelated process now
has its pid.  On Linux we therefore also record the process's start time
(``/proc/PID/stat`` field 22, in clock ticks since boot) together with the boot
id; a pid whose start token differs from the recorded one is a different
process.  Elsewhere we fall back to ``kill(pid, 0)``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessIdent:
    """Who is writing: recorded on every session this process creates."""

    pid: int
    host: str
    start: str | None
    """``"<boot id>/<start ticks>"``, or None where /proc is unavailable."""


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _stat_fields(pid: int) -> tuple[str, str]:
    """(state, start ticks) of ``pid`` from /proc; FileNotFoundError if there is none."""
    raw = (_PROC / str(pid) / "stat").read_text()
    # Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); field 22 (starttime) is rest[19].
    return rest[0], rest[19]


def start_token(pid: int) -> str | None:
    boot = _boot_id()
    if boot is None:
        return None
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError, IndexError):
        return None
    return f"{boot}/{fields[1]}"


def current_process() -> ProcessIdent:
    pid = os.getpid()
    return ProcessIdent(pid=pid, host=socket.gethostname(), start=start_token(pid))


def process_is_gone(pid: int, recorded_start: str | None) -> bool:
    """True when ``pid`` (on this host) is certainly not the process that was recorded."""
    if _boot_id() is not None:
        try:
            fields = _stat_fields(pid)
        except FileNotFoundError:
            return True
        except (OSError, ValueError, IndexError):
            return False  # cannot tell: leave the session alone
        if fields[0] in ("Z", "X"):  # zombie or dead: it will not write again
            return True
        if recorded_start is not None:
            return start_token(pid) != recorded_start
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
