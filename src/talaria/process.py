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
from collections.abc import Callable, Mapping, Sequence
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


def exit_marker(code: int) -> str:
    """``[exit code N]``, naming the signal when a negative code means one killed it."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"[exit code {code}: killed by {name}]"
    return f"[exit code {code}]"


@dataclass(frozen=True, slots=True)
class ProcessResult:
    output: str
    """stdout and stderr merged, or stdout alone with ``separate_stderr=True``."""
    exit_code: int | None
    timed_out: bool
    duration_s: float
    truncated: bool
    stderr: str | None = None
    """stderr on its own; ``None`` unless ``separate_stderr=True``."""


async def run_shell(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
    shell: str = "/bin/bash",
    script_name: str | None = None,
    script_args: Sequence[str] = (),
    separate_stderr: bool = False,
    redact: Callable[[str], str] | None = None,
) -> ProcessResult:
    """Run ``command`` with ``shell -c``, stdout and stderr merged, output capped.

    Cancellation kills the process group and re-raises; timeouts kill it and
    return a result with ``timed_out=True`` and whatever output was produced.

    ``script_args`` become the positional parameters (``$1``…, ``"$@"``) and
    ``script_name`` becomes ``$0``: arguments passed this way are data, never
    parsed as shell code.  ``separate_stderr`` captures stderr on its own (then
    ``max_output`` caps both streams together).  ``redact`` is applied before
    capping, so a secret cut in half by the cap is still recognised.
    """
    start = time.monotonic()
    argv = [shell, "-c", command]
    if script_name is not None or script_args:
        argv += [script_name if script_name is not None else shell, *script_args]
    # Our own pipes rather than stdout=PIPE: asyncio's Process.wait() resolves only
    # once every pipe it manages is closed, so a background job that inherited
    # stdout (``server &``, or one that left the group with ``setsid``) would keep
    # us waiting until it exits and the command would be reported as timed out.
    # With the pipes outside the transport, wait() means "the leader exited", and
    # closing the read ends (so no transport is left open) is ours to do.
    fds = _pipes(2 if separate_stderr else 1)
    read_fds, write_fds = [r for r, _ in fds], [w for _, w in fds]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fds[0],
            stderr=write_fds[-1],
            start_new_session=True,
        )
    except BaseException:
        for fd in read_fds:
            os.close(fd)
        raise
    finally:
        for fd in write_fds:  # the child has its copies; EOF comes when all writers are gone
            os.close(fd)
    pgid = proc.pid  # leader of its own new session and group
    with _live_lock:
        _live_groups.add(pgid)
    captures: list[_Capture] = []
    timed_out = False
    try:
        for fd in read_fds:
            captures.append(_Capture(fd, max_output))
        for capture in captures:
            await capture.start()
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            timed_out = True
        _killpg(pgid)  # stragglers (background jobs) die with the command
        # asyncio.wait neither cancels the readers on timeout nor raises.
        await asyncio.wait([c.reader for c in captures if c.reader is not None], timeout=_DRAIN_S)
    finally:
        _killpg(pgid)
        for capture in captures:
            capture.close()
        await _reap(proc, pgid)
    texts = [capture.text() for capture in captures]
    if redact is not None:
        texts = [redact(text) for text in texts]
    if separate_stderr:
        out, err, truncated = _share(texts[0], texts[1], max_output)
    else:
        out, err = truncate_middle(texts[0], max_output), None
        truncated = out is not texts[0]
    return ProcessResult(
        output=out,
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        duration_s=time.monotonic() - start,
        truncated=truncated,
        stderr=err,
    )


def _pipes(count: int) -> list[tuple[int, int]]:
    fds: list[tuple[int, int]] = []
    try:
        for _ in range(count):
            fds.append(os.pipe())
    except BaseException:
        for r, w in fds:
            os.close(r)
            os.close(w)
        raise
    return fds


def _share(out: str, err: str, limit: int) -> tuple[str, str, bool]:
    """Cap stdout and stderr to ``limit`` characters together.

    stderr gets what stdout leaves, but at least a quarter: when a command
    fails noisily, the error is usually what the user needs to see.
    """
    if limit <= 0 or len(out) + len(err) <= limit:
        return out, err, False
    err_budget = min(len(err), max(limit // 4, limit - len(out)))
    return truncate_middle(out, limit - err_budget), truncate_middle(err, err_budget), True


class _Capture:
    """One output pipe read on the loop, memory bounded.

    Commands that print gigabytes keep the head and a rolling tail, enough to
    build the head+tail view shown to the model or the user.
    """

    def __init__(self, read_fd: int, max_output: int) -> None:
        self._pipe = os.fdopen(read_fd, "rb", buffering=0)
        self._stream = asyncio.StreamReader()
        self._transport: asyncio.BaseTransport | None = None
        self._keep = max(max_output * 4, 64 * 1024)
        self._chunks: list[bytes] = []
        self._size = 0
        self._dropped = 0
        self._tail = bytearray()
        self.reader: asyncio.Future[None] | None = None

    async def start(self) -> None:
        self.reader = asyncio.ensure_future(self._pump())
        self._transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(self._stream), self._pipe
        )

    async def _pump(self) -> None:
        while True:
            data = await self._stream.read(65536)
            if not data:
                return
            if self._size < self._keep:
                self._chunks.append(data)
                self._size += len(data)
            else:
                self._tail.extend(data)
                if len(self._tail) > self._keep:
                    self._dropped += len(self._tail) - self._keep
                    del self._tail[: len(self._tail) - self._keep]

    def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        # Closing the read end also releases anyone outside the group still
        # holding the write end (they get EPIPE); nothing waits on them.
        if self._transport is not None:
            self._transport.close()
        else:
            self._pipe.close()

    def text(self) -> str:
        raw = b"".join(self._chunks)
        if self._dropped:
            raw += f"\n[... {self._dropped} bytes dropped ...]\n".encode()
        raw += bytes(self._tail)
        return raw.decode("utf-8", errors="replace")


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
