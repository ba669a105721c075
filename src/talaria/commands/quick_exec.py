"""Running an ``exec`` quick command: arguments as data, nothing left behind, no secrets.

Three promises, each one a bug users of other agents hit:

* **No injection through arguments.**  The user's text is split like a shell
  would (``shlex``; unbalanced quotes make the whole text one argument) and the
  words reach the shell as positional parameters: ``{args}`` in the template
  becomes ``"$@"``, and without ``{args}`` a ``"$@"`` is appended.  The shell
  expands parameters but never parses their values as code, so ``; rm -rf ~``,
  quotes, ``$(…)`` and backticks arrive as literal text whatever the template
  looks like around them.  (Textually pasting quoted words into the template
  would be broken by a template that quotes ``{args}`` itself, or puts it in a
  comment or a here-document.)
* **Nothing survives.**  :func:`talaria.process.run_shell` runs the snippet in
  its own process group and kills the whole group on exit, on timeout and on
  cancellation (Ctrl-C cancels the task that awaits us).
* **No secrets.**  The environment is scrubbed of secret-looking variables here
  even if the caller already did (belt and braces: the caller may hand us
  ``os.environ``), and stdout/stderr pass through the redactor before they are
  capped, so a secret cut in half by the cap is still recognised.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from talaria.process import exit_marker, run_shell
from talaria.secrets import scrub_env

if TYPE_CHECKING:  # quick.py re-exports this module, so the import goes one way at runtime
    from talaria.commands.quick import ExecCommand

ARGS_PLACEHOLDER = "{args}"


@dataclass(frozen=True, slots=True)
class ExecOutcome:
    """What an exec quick command did; ``render()`` is the text to show the user.

    ``stdout`` and ``stderr`` are already redacted and capped (together, at the
    command's ``max_output``).  ``error`` is set when the shell could not even
    start (missing working directory, missing shell); the other fields are then
    empty.
    """

    name: str
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    truncated: bool
    timeout: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and self.exit_code == 0

    def render(self) -> str:
        """stdout, then stderr under a ``[stderr]`` line, then how it ended if not cleanly.

        The two streams are shown apart (not interleaved) because on failure
        stderr is what the user is looking for, and mixing it into pages of
        stdout would hide it.
        """
        if self.error is not None:
            return self.error
        parts: list[str] = []
        out, err = self.stdout.rstrip("\n"), self.stderr.rstrip("\n")
        if out:
            parts.append(out)
        if err:
            parts.append("[stderr]\n" + err)
        if not parts:
            parts.append("(no output)")
        if self.timed_out:
            parts.append(f"[timed out after {self.timeout:g}s; the process group was killed]")
        elif self.exit_code:
            parts.append(exit_marker(self.exit_code))
        return "\n".join(parts)


def split_args(text: str) -> list[str]:
    """The user's argument text as words, split the way a shell would split them.

    Unbalanced quotes (``don't``) are a typo, not an error worth refusing the
    command for: the whole text becomes one argument.
    """
    text = text.strip()
    if not text:
        return []
    try:
        return shlex.split(text)
    except ValueError:
        return [text]


def build_script(command: str, argv: list[str]) -> str:
    """The snippet handed to ``shell -c``: arguments go in as ``"$@"``, never as text."""
    if ARGS_PLACEHOLDER in command:
        return command.replace(ARGS_PLACEHOLDER, '"$@"')
    return f'{command} "$@"' if argv else command


def preview(cmd: ExecCommand, args: str) -> str:
    """The command as a person would read it (arguments shell-quoted), for display only."""
    quoted = shlex.join(split_args(args))
    if ARGS_PLACEHOLDER in cmd.command:
        return cmd.command.replace(ARGS_PLACEHOLDER, quoted)
    return f"{cmd.command} {quoted}" if quoted else cmd.command


async def run_exec(
    cmd: ExecCommand,
    args: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    redact: Callable[[str], str],
    shell: str = "/bin/bash",
    passthrough: Iterable[str] = (),
) -> ExecOutcome:
    """Run ``cmd`` with the user's ``args`` (see the module docstring for the guarantees).

    ``env`` is scrubbed again here; ``passthrough`` names secret-looking
    variables the user explicitly allowed (``terminal.env_passthrough``).
    Cancellation kills the process group and propagates; a timeout kills it
    and is reported in the outcome.  Never raises for a command that fails or
    cannot start: the outcome says what happened.
    """
    argv = split_args(args)
    try:
        result = await run_shell(
            build_script(cmd.command, argv),
            cwd=cwd,
            env=scrub_env(env, passthrough),
            timeout=cmd.timeout,
            max_output=cmd.max_output,
            shell=shell,
            script_name=cmd.name,
            script_args=argv,
            separate_stderr=True,
            redact=redact,
        )
    except (OSError, ValueError) as e:
        # OSError: missing shell or working directory; ValueError: a NUL byte
        # in an argument, which no exec can carry.
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return ExecOutcome(
            name=cmd.name,
            stdout="",
            stderr="",
            exit_code=None,
            timed_out=False,
            truncated=False,
            timeout=cmd.timeout,
            error=redact(f"/{cmd.name}: could not start {shell} in {cwd}: {reason}"),
        )
    return ExecOutcome(
        name=cmd.name,
        stdout=result.output,
        stderr=result.stderr or "",
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        truncated=result.truncated,
        timeout=cmd.timeout,
    )
