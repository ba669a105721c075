"""Exec quick commands against real shells and real process groups."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from talaria import concurrency, process
from talaria.commands.quick import (
    ExecCommand,
    ExecOutcome,
    load_quick_commands,
    preview,
    run_exec,
    split_args,
)
from talaria.secrets import Redactor
from talaria.testing.procs import group_alive

SECRET = "s3cr3t-value-0123456789-abcdef"
PRINT_ARGS = "printf '<%s>\\n'"  # one line per argument, brackets show the exact bounds


def identity(text: str) -> str:
    return text


async def run(
    tmp_path: Path,
    command: str,
    args: str = "",
    *,
    env: Mapping[str, str] | None = None,
    redact: Callable[[str], str] = identity,
    timeout: float = 30.0,
    max_output: int = 8000,
) -> ExecOutcome:
    cmd = ExecCommand("qc", command, timeout=timeout, max_output=max_output)
    return await run_exec(
        cmd, args, cwd=tmp_path, env=dict(os.environ if env is None else env), redact=redact
    )


def lines(outcome: ExecOutcome) -> list[str]:
    assert outcome.ok, outcome.render()
    return outcome.stdout.splitlines()


def is_dead(pid: int) -> bool:
    """Gone, or a zombie: PID 1 in a container may never reap what it inherits."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``predicate`` (in a worker thread: it reads /proc) until true or the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await concurrency.to_thread(predicate):
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


# --- arguments are data ---------------------------------------------------------


async def test_shell_syntax_in_args_is_passed_literally(tmp_path: Path) -> None:
    sentinel = tmp_path / "x"
    sentinel.mkdir()
    (sentinel / "keep").write_text("still here")
    pwned = [tmp_path / f"pwned{i}" for i in range(4)]
    args = (
        f"; rm -rf {sentinel} "
        f"'$(touch {pwned[0]})' \"`touch {pwned[1]}`\" $(touch {pwned[2]}) "
        f"&& touch {pwned[3]} | cat"
    )
    out = await run(tmp_path, f"{PRINT_ARGS} {{args}}", args)
    assert lines(out) == [
        "<;>",
        "<rm>",
        "<-rf>",
        f"<{sentinel}>",
        f"<$(touch {pwned[0]})>",
        f"<`touch {pwned[1]}`>",
        "<$(touch>",
        f"<{pwned[2]})>",
        "<&&>",
        "<touch>",
        f"<{pwned[3]}>",
        "<|>",
        "<cat>",
    ]
    assert (sentinel / "keep").read_text() == "still here"
    assert not any(p.exists() for p in pwned)


async def test_quotes_group_words_and_unbalanced_quotes_make_one_argument(tmp_path: Path) -> None:
    out = await run(tmp_path, f"{PRINT_ARGS} {{args}}", "\"it's\" 'say \"hi\"' a\\ b ''")
    assert lines(out) == ["<it's>", '<say "hi">', "<a b>", "<>"]
    out = await run(tmp_path, f"{PRINT_ARGS} {{args}}", "don't stop; rm -rf /tmp/x")
    assert lines(out) == ["<don't stop; rm -rf /tmp/x>"]


async def test_a_single_quoted_argument_with_shell_code_is_one_literal_word(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("alive")
    out = await run(tmp_path, "echo before {args} after", f"'; rm -rf {sentinel}; echo '")
    assert lines(out) == [f"before ; rm -rf {sentinel}; echo  after"]
    assert sentinel.read_text() == "alive"


async def test_args_are_appended_when_there_is_no_placeholder(tmp_path: Path) -> None:
    assert lines(await run(tmp_path, PRINT_ARGS, "a 'b c'")) == ["<a>", "<b c>"]
    # No args, no placeholder: the command runs as written.
    assert lines(await run(tmp_path, "echo plain")) == ["plain"]
    # A placeholder with no args expands to nothing at all (not an empty word).
    assert lines(await run(tmp_path, "echo start {args} end")) == ["start end"]
    # Every occurrence of the placeholder gets the arguments.
    assert lines(await run(tmp_path, "echo {args} / {args}", "x y")) == ["x y / x y"]


async def test_a_newline_argument_cannot_escape_a_comment(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    quick, problems = load_quick_commands(
        {"c": {"type": "exec", "command": "echo ran # {args}"}}, builtin_names=()
    )
    assert problems == []
    cmd = quick["c"]
    assert isinstance(cmd, ExecCommand)
    out = await run_exec(
        cmd, f"'x\ntouch {pwned}'", cwd=tmp_path, env=dict(os.environ), redact=identity
    )
    assert lines(out) == ["ran"]
    assert not pwned.exists()


def test_split_args_and_preview() -> None:
    assert split_args("  ") == []
    assert split_args("a 'b c'") == ["a", "b c"]
    assert split_args("it's") == ["it's"]
    cmd = ExecCommand("grep", "grep -rn {args} .")
    assert preview(cmd, "foo 'two words'") == "grep -rn foo 'two words' ."
    assert preview(ExecCommand("ls", "ls -la"), "a b") == "ls -la a b"
    assert preview(ExecCommand("ls", "ls -la"), "") == "ls -la"


# --- how it ends ------------------------------------------------------------------


async def test_nonzero_exit_shows_the_code_and_stderr(tmp_path: Path) -> None:
    out = await run(tmp_path, "echo partial; echo boom >&2; exit 3")
    assert not out.ok
    assert (out.stdout, out.stderr, out.exit_code) == ("partial\n", "boom\n", 3)
    assert out.render() == "partial\n[stderr]\nboom\n[exit code 3]"


async def test_success_and_silence_render_plainly(tmp_path: Path) -> None:
    assert (await run(tmp_path, "echo hello")).render() == "hello"
    assert (await run(tmp_path, "true")).render() == "(no output)"
    killed = await run(tmp_path, "kill -TERM $$")
    assert killed.render() == "(no output)\n[exit code -15: killed by SIGTERM]"


async def test_a_missing_working_directory_is_an_outcome_not_a_crash(tmp_path: Path) -> None:
    open_fds = len(os.listdir("/proc/self/fd"))
    out = await run(tmp_path / "gone", "echo hi")
    assert not out.ok
    assert out.render().startswith("/qc: could not start /bin/bash in")
    assert len(os.listdir("/proc/self/fd")) == open_fds  # both pipes were closed


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    leader_file, child_file = tmp_path / "leader", tmp_path / "child"
    out = await run(
        tmp_path,
        f"echo $$ > {leader_file}; sleep 300 & echo $! > {child_file}; echo started; wait",
        timeout=0.5,
    )
    assert out.timed_out and out.exit_code is None and not out.ok
    assert out.render() == "started\n[timed out after 0.5s; the process group was killed]"
    leader, child = read_pid(leader_file), read_pid(child_file)
    assert leader is not None and child is not None
    await wait_until(lambda: not group_alive(leader), "the process group to die")
    assert is_dead(child)
    assert leader not in process.live_process_groups()


async def test_cancellation_kills_the_whole_process_group(tmp_path: Path) -> None:
    leader_file, child_file = tmp_path / "leader", tmp_path / "child"
    task = asyncio.create_task(
        run(tmp_path, f"echo $$ > {leader_file}; sleep 60 & echo $! > {child_file}; sleep 60")
    )
    await wait_until(lambda: read_pid(child_file) is not None, "the command to start")
    leader, child = read_pid(leader_file), read_pid(child_file)
    assert leader is not None and child is not None
    assert group_alive(leader)
    task.cancel()
    async with asyncio.timeout(10):  # a deadline for liveness, not a timing assertion
        with pytest.raises(asyncio.CancelledError):
            await task
    await wait_until(lambda: not group_alive(leader), "the process group to die")
    assert is_dead(child)
    assert leader not in process.live_process_groups()


# --- output cap -------------------------------------------------------------------


async def test_long_output_is_capped_keeping_head_and_tail(tmp_path: Path) -> None:
    out = await run(tmp_path, "echo BEGIN; yes line | head -n 50000; echo END", max_output=2000)
    assert out.truncated
    assert len(out.stdout) < 2100
    assert out.stdout.startswith("BEGIN\n")
    assert out.stdout.rstrip().endswith("END")
    assert "truncated" in out.stdout


async def test_the_cap_covers_both_streams_and_keeps_the_error(tmp_path: Path) -> None:
    out = await run(
        tmp_path,
        "yes out | head -n 20000; yes err | head -n 20000 >&2; echo FATAL >&2; exit 1",
        max_output=2000,
    )
    assert out.truncated
    assert len(out.stdout) + len(out.stderr) < 2200
    assert out.stdout.startswith("out\n")
    assert out.stderr.rstrip().endswith("FATAL")
    assert out.render().endswith("FATAL\n[exit code 1]")


async def test_short_output_is_not_marked_truncated(tmp_path: Path) -> None:
    out = await run(tmp_path, "echo short; echo note >&2", max_output=2000)
    assert not out.truncated
    assert out.render() == "short\n[stderr]\nnote"


# --- secrets ----------------------------------------------------------------------


async def test_secret_env_vars_are_not_visible_even_if_passed_in(tmp_path: Path) -> None:
    env = {**os.environ, "MY_API_KEY": SECRET, "GITHUB_TOKEN": SECRET, "PLAIN_SETTING": "ok"}
    out = await run(
        tmp_path,
        'echo "key=${MY_API_KEY:-absent} gh=${GITHUB_TOKEN:-absent} plain=$PLAIN_SETTING"; env',
        env=env,
    )
    assert lines(out)[0] == "key=absent gh=absent plain=ok"
    assert SECRET not in out.stdout


async def test_passthrough_lets_an_allowed_secret_through(tmp_path: Path) -> None:
    cmd = ExecCommand("qc", 'echo "key=${MY_API_KEY:-absent}"')
    env = {**os.environ, "MY_API_KEY": SECRET}
    out = await run_exec(
        cmd, "", cwd=tmp_path, env=env, redact=identity, passthrough=["MY_API_KEY"]
    )
    assert lines(out) == [f"key={SECRET}"]


async def test_secret_values_printed_by_the_command_are_redacted(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text(SECRET)
    redact = Redactor([SECRET])
    out = await run(tmp_path, "echo out=$(cat token.txt); cat token.txt >&2; exit 1", redact=redact)
    assert SECRET not in out.render()
    assert out.render() == "out=[REDACTED]\n[stderr]\n[REDACTED]\n[exit code 1]"
    # Secret-shaped values are redacted even when nobody declared them.
    key = "sk-" + "A1b2C3d4E5f6G7h8J9k0"
    out = await run(tmp_path, f"echo {key}", redact=Redactor())
    assert lines(out) == ["[REDACTED]"]


async def test_redaction_happens_before_the_cap_cuts_a_secret_in_half(tmp_path: Path) -> None:
    limit = 1000
    head = int(limit * 0.6)  # where truncate_middle cuts the head
    text = "a" * (head - 12) + SECRET + "b" * 5000
    (tmp_path / "big.txt").write_text(text)
    out = await run(tmp_path, "cat big.txt", redact=Redactor([SECRET]), max_output=limit)
    assert out.truncated
    assert SECRET[:12] not in out.stdout
    assert "[REDACTED]" in out.stdout
