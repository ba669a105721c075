"""The ``terminal`` tool: run one shell command and report what happened.

The model gets a faithful, bounded account of the command: its merged output
(head and tail kept when it is long), the exit status when it is not zero, and
an explicit marker when the time limit killed it.  Silence about a timeout or a
truncation would make the model reason from output it has not fully seen.

Safety comes from :func:`talaria.process.run_shell`: every command runs in its
own process group, and that group is killed on timeout, on interrupt
(cancellation) and as soon as the command itself exits, so nothing a command
starts can outlive the call.  The environment is the run's scrubbed one
(``ctx.env``), and the output passes through the run's redactor, so a secret
that reaches the output anyway (read from a file, say) does not reach the
model or the session store.
"""

from __future__ import annotations

from pathlib import Path

from talaria import concurrency
from talaria.errors import ToolError
from talaria.process import ProcessResult, exit_marker, run_shell
from talaria.tools.base import Tool, ToolContext, tool

MAX_TIMEOUT_S = 3600.0
"""No single command may hold a run for more than an hour, whatever the model asks."""


def effective_timeout(requested: float | None, default: float) -> float:
    """The timeout to apply: the model's request or the configured default, capped.

    A zero or negative request is a mistake the model should hear about rather
    than a silent "no limit".
    """
    if requested is None:
        # A configured 0 (or less) means "no limit", which still means the cap.
        return MAX_TIMEOUT_S if default <= 0 else min(default, MAX_TIMEOUT_S)
    if requested <= 0:
        raise ToolError(f"timeout must be a positive number of seconds, got {requested:g}")
    return min(requested, MAX_TIMEOUT_S)


def _check_workdir(path: Path) -> None:
    if not path.exists():
        raise ToolError(f"workdir does not exist: {path}")
    if not path.is_dir():
        raise ToolError(f"workdir is not a directory: {path}")


def render(result: ProcessResult, *, timeout: float) -> str:
    """Turn a process result into the text the model reads (before redaction)."""
    parts: list[str] = []
    output = result.output.rstrip("\n")
    parts.append(output if output else "(no output)")
    if result.timed_out:
        parts.append(f"[timed out after {timeout:g}s; the process group was killed]")
    elif result.exit_code:
        parts.append(exit_marker(result.exit_code))
    return "\n".join(parts)


@tool(toolset="terminal")
async def terminal(
    ctx: ToolContext,
    command: str,
    timeout: float | None = None,
    workdir: str | None = None,
) -> str:
    """Run a shell command and return its combined stdout and stderr.

    Each call starts a fresh, non-interactive shell (bash by default) with no
    stdin: `cd`, `export` and shell variables do not carry over to the next
    call, so pass `workdir` or chain steps with `&&` in one command. Commands
    that wait for input (editors, pagers, prompts, `git commit` without `-m`)
    block until the timeout: use non-interactive flags (`-y`, `--no-pager`,
    `git --no-pager log`). Everything the command starts, including background
    jobs (`&`), is killed when the command exits or times out, so a server
    started here does not keep running after the call returns.

    The result is the output (long output keeps its beginning and end with a
    marker saying how much was cut), followed by `[exit code N]` when the exit
    status is not zero, or by `[timed out after Ns; the process group was
    killed]`. Secret values are replaced by [REDACTED], and secret-looking
    environment variables (API keys, tokens, passwords) are not available to
    the command. Prefer `read_file`, `write_file`, `patch` and `search_files`
    for reading and editing files: they are exact and cheaper than `cat` or
    `sed`.

    Args:
        command: The shell command to run, e.g. `pytest -x -q tests/` or
            `ls -la src && git status`.
        timeout: Seconds before the command and everything it started are
            killed. Defaults to the configured terminal timeout; at most 3600.
        workdir: Directory to run in, absolute or relative to the working
            directory of the run. Defaults to the run's working directory.
    """
    if not command.strip():
        raise ToolError("command is empty; pass the shell command to run")
    conf = ctx.settings.config.terminal
    limit = effective_timeout(timeout, conf.timeout)
    cwd = ctx.cwd if workdir is None else ctx.resolve(workdir)
    # A stat is blocking file I/O; it does not belong on the event loop.
    await concurrency.to_thread(_check_workdir, cwd)
    try:
        result = await run_shell(
            command,
            cwd=cwd,
            env=ctx.env,
            timeout=limit,
            max_output=conf.max_output_chars,
            shell=conf.shell,
        )
    except OSError as e:
        # The shell is missing or not executable, the directory vanished between
        # the check and the spawn, or the command is too long for exec.
        raise ToolError(f"could not start {conf.shell} in {cwd}: {e.strerror or e}") from None
    return ctx.redact(render(result, timeout=limit))


TOOLS: list[Tool] = [terminal]
