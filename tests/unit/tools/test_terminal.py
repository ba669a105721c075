"""The terminal tool against real shells and real process groups."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from talaria import concurrency, process
from talaria.config import Settings
from talaria.errors import ToolError
from talaria.secrets import Redactor, scrub_env
from talaria.tools.base import ToolContext
from talaria.tools.builtin.terminal import MAX_TIMEOUT_S, effective_timeout, terminal

SECRET = "s3cr3t-value-0123456789"


def make_ctx(
    tmp_path: Path,
    *,
    parent_env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ToolContext:
    parent = dict(os.environ if parent_env is None else parent_env)
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    return ToolContext(
        run_id="test-run",
        cwd=cwd,
        settings=Settings.for_home(tmp_path / "home", **(overrides or {})),
        env=scrub_env(parent),
        redact=Redactor.from_env(parent),
    )


async def run(ctx: ToolContext, **arguments: Any) -> str:
    return await terminal.invoke(ctx, json.dumps(arguments))


def is_dead(pid: int) -> bool:
    """Gone, or a zombie: PID 1 in a container may never reap what it inherits."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    # The state follows the parenthesised command name, which may contain spaces.
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` (in a worker thread: it reads /proc) until true or the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await concurrency.to_thread(predicate):
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def test_returns_combined_output_without_marker_on_success(tmp_path: Path) -> None:
    out = await run(make_ctx(tmp_path), command="echo hello; echo oops >&2")
    assert out.splitlines() == ["hello", "oops"]


async def test_nonzero_exit_code_is_reported(tmp_path: Path) -> None:
    out = await run(make_ctx(tmp_path), command="echo partial; exit 3")
    assert out == "partial\n[exit code 3]"


async def test_silent_command_says_so(tmp_path: Path) -> None:
    assert await run(make_ctx(tmp_path), command="true") == "(no output)"


async def test_runs_in_the_run_cwd_and_in_workdir(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    (ctx.cwd / "sub").mkdir()
    assert await run(ctx, command="pwd") == str(ctx.cwd)
    assert await run(ctx, command="pwd", workdir="sub") == str(ctx.cwd / "sub")


async def test_missing_or_file_workdir_is_a_tool_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match="workdir does not exist"):
        await run(ctx, command="pwd", workdir="nope")
    (ctx.cwd / "f.txt").write_text("x")
    with pytest.raises(ToolError, match="not a directory"):
        await run(ctx, command="pwd", workdir="f.txt")


async def test_empty_command_is_a_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="empty"):
        await run(make_ctx(tmp_path), command="   ")


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    leader_file, child_file = tmp_path / "leader", tmp_path / "child"
    out = await run(
        ctx,
        command=f"echo $$ > {leader_file}; sleep 300 & echo $! > {child_file}; echo started; wait",
        timeout=1,
    )
    assert "started" in out
    assert out.endswith("[timed out after 1s; the process group was killed]")
    leader, child = read_pid(leader_file), read_pid(child_file)
    assert leader is not None and child is not None
    await wait_until(lambda: is_dead(child), "the background sleep to die")
    assert is_dead(leader)
    assert leader not in process.live_process_groups()


async def test_default_timeout_comes_from_config(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides={"terminal.timeout": 0.5})
    out = await run(ctx, command="sleep 30")
    assert "[timed out after 0.5s; the process group was killed]" in out


async def test_background_jobs_do_not_outlive_a_finished_command(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    child_file = tmp_path / "child"
    out = await run(ctx, command=f"sleep 300 & echo $! > {child_file}; echo done")
    assert out == "done"
    child = read_pid(child_file)
    assert child is not None
    await wait_until(lambda: is_dead(child), "the background sleep to die")


async def test_cancellation_kills_the_process_group(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    leader_file, child_file = tmp_path / "leader", tmp_path / "child"
    task = asyncio.create_task(
        run(ctx, command=f"echo $$ > {leader_file}; sleep 60 & echo $! > {child_file}; sleep 60")
    )
    await wait_until(lambda: read_pid(child_file) is not None, "the command to start")
    leader, child = read_pid(leader_file), read_pid(child_file)
    assert leader is not None and child is not None
    task.cancel()
    async with asyncio.timeout(10):  # a deadline for liveness, not a timing assertion
        with pytest.raises(asyncio.CancelledError):
            await task
    await wait_until(lambda: is_dead(leader) and is_dead(child), "the group to die")
    assert leader not in process.live_process_groups()


async def test_secret_variables_are_not_passed_to_commands(tmp_path: Path) -> None:
    parent = {**os.environ, "FOO_API_KEY": SECRET, "PLAIN_SETTING": "visible"}
    ctx = make_ctx(tmp_path, parent_env=parent)
    out = await run(ctx, command='echo "key=${FOO_API_KEY:-absent} plain=$PLAIN_SETTING"')
    assert out == "key=absent plain=visible"


async def test_secret_values_in_output_are_redacted(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, parent_env={**os.environ, "FOO_API_KEY": SECRET})
    out = await run(ctx, command=f"echo 'the key is {SECRET}'")
    assert SECRET not in out
    assert out == "the key is [REDACTED]"


async def test_long_output_is_capped_keeping_head_and_tail(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides={"terminal.max_output_chars": 2000})
    out = await run(ctx, command="echo BEGIN; yes line | head -n 50000; echo END")
    assert len(out) < 2500
    assert out.startswith("BEGIN")
    assert out.rstrip().endswith("END")
    assert "truncated" in out


async def test_invalid_arguments_are_tool_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="timeout"):
        await terminal.invoke(make_ctx(tmp_path), '{"command": "true", "timeout": "soon"}')
    with pytest.raises(ToolError, match="positive"):
        await run(make_ctx(tmp_path), command="true", timeout=0)


def test_effective_timeout_defaults_and_caps() -> None:
    assert effective_timeout(None, 180) == 180
    assert effective_timeout(5, 180) == 5
    assert effective_timeout(10**9, 180) == MAX_TIMEOUT_S
    assert effective_timeout(None, 10**9) == MAX_TIMEOUT_S
    assert effective_timeout(None, 0) == MAX_TIMEOUT_S
    with pytest.raises(ToolError):
        effective_timeout(-1, 180)


async def test_a_process_that_left_the_group_does_not_block_the_call(tmp_path: Path) -> None:
    # `setsid` escapes the process group (only a cgroup could catch it); the call
    # must still return when the command exits instead of waiting on its stdout.
    ctx = make_ctx(tmp_path)
    escaped_file = tmp_path / "escaped"
    try:
        async with asyncio.timeout(30):  # liveness deadline, far below the 300s sleep
            out = await run(ctx, command=f"setsid sleep 300 & echo $! > {escaped_file}; echo ok")
        assert out == "ok"
    finally:
        escaped = read_pid(escaped_file)
        if escaped is not None and not is_dead(escaped):
            os.kill(escaped, signal.SIGKILL)


async def test_missing_shell_is_a_tool_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides={"terminal.shell": str(tmp_path / "no-such-shell")})
    open_fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ToolError, match="could not start"):
        await run(ctx, command="echo hi")
    assert len(os.listdir("/proc/self/fd")) == open_fds  # the output pipe was closed
