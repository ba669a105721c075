"""Running shell commands so that nothing survives its owner.

Every command runs in its own session and process group (``start_new_session``),
so the whole tree it spawns can be killed with one ``killpg``.  The group is
killed on timeout, on cancellation (the interrupt) and after the main process
exits, then the leader is reaped, inside ``finally`` and shielded from the
cancellation that got us there.  This is what makes "Ctrl-C left a shell
command running" impossible rather than unlikely.

The set of live groups is process-wide on purpose: it exists only so an
emergency exit (second SIGINT) can kill them before ``os._exit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from talaria.textutil import truncate_middle

# After the main process exits, background jobs it left may keep the pipe open;
# we kill the group and read what is left for at most this long.
_DRAIN_S = 0.5

_live_lock = threading.Lock()
_live_groups: set[int] = set()


def live_process_groups() -> list[int]:
    with _live_lock:
        return sorted(_live_groups)


def kill_all_process_groups() -> None:
    """Kill every group we started and have not reaped (emergency exit path)."""
    for pgid in live_process_groups():
        _killpg(pgid)


def _killpg(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class ProcessResult:
    output: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    truncated: bool


async def run_shell(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
    shell: str = "/bin/bash",
) -> ProcessResult:
    """Run ``command`` with ``shell -c``, stdout and stderr merged, output capped.

    Cancellation kills the process group and re-raises; timeouts kill it and
    return a result with ``timed_out=True`` and whatever output was produced.
    """
    start = time.monotonic()
    # Our own pipe rather than stdout=PIPE: asyncio's Process.wait() resolves only
    # once every pipe it manages is closed, so a background job that inherited
    # stdout (``server &``, or one that left the group with ``setsid``) would keep
    # us waiting until it exits and the command would be reported as timed out.
    # With the pipe outside the transport, wait() means "the leader exited", and
    # closing the read end (so the transport is never left open) is ours to do.
    read_fd, write_fd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            shell,
            "-c",
            command,
            cwd=str(cwd),
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the child has its copy; EOF comes when all writers are gone
    pgid = proc.pid  # leader of its own new session and group
    with _live_lock:
        _live_groups.add(pgid)
    pipe = os.fdopen(read_fd, "rb", buffering=0)
    stream = asyncio.StreamReader()
    transport: asyncio.BaseTransport | None = None
    chunks: list[bytes] = []
    size = 0
    # Keep memory bounded for commands that print gigabytes: keep the head and a
    # rolling tail, enough to build the head+tail view the model gets.
    keep = max(max_output * 4, 64 * 1024)
    dropped = 0
    tail = bytearray()

    async def pump() -> None:
        nonlocal size, dropped
        while True:
            data = await stream.read(65536)
            if not data:
                return
            if size < keep:
                chunks.append(data)
                size += len(data)
            else:
                tail.extend(data)
                if len(tail) > keep:
                    dropped += len(tail) - keep
                    del tail[: len(tail) - keep]

    timed_out = False
    reader = asyncio.ensure_future(pump())
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), pipe
        )
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            timed_out = True
        _killpg(pgid)  # stragglers (background jobs) die with the command
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN_S):
                await asyncio.shield(reader)
    finally:
        _killpg(pgid)
        reader.cancel()
        # Closing the read end also releases anyone outside the group still
        # holding the write end (they get EPIPE); nothing waits on them.
        if transport is not None:
            transport.close()
        else:
            pipe.close()
        await _reap(proc, pgid)
    raw = b"".join(chunks)
    if dropped:
        raw += f"\n[... {dropped} bytes dropped ...]\n".encode()
    raw += bytes(tail)
    text = raw.decode("utf-8", errors="replace")
    capped = truncate_middle(text, max_output)
    return ProcessResult(
        output=capped,
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        duration_s=time.monotonic() - start,
        truncated=capped is not text,
    )


async def _reap(proc: asyncio.subprocess.Process, pgid: int) -> None:
    """Wait for the killed leader, even while our task is being cancelled."""

    async def wait() -> None:
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()

    try:
        await asyncio.shield(wait())
    except asyncio.CancelledError:
        # Cancelled again while reaping: the group is already SIGKILLed, so the
        # wait is short; finish it so the zombie does not outlive us.
        await asyncio.shield(wait())
        raise
    finally:
        with _live_lock:
            _live_groups.discard(pgid)
