"""User-defined quick commands from ``config.yaml``: validation and aliases.

Two kinds, Hermes-compatible::

    quick_commands:
      gs:   {type: exec, command: "git status --short", timeout: 10}
      grep: {type: exec, command: "grep -rn {args} .", max_output: 4000}
      sc:   {type: alias, target: /context}
      m:    {type: alias, target: "/model openrouter/anthropic/claude-sonnet-4"}

This module turns the raw mapping into typed commands and resolves aliases;
running an ``exec`` lives in :mod:`talaria.commands.quick_exec` and is
re-exported here, so callers import everything from this one module.

Loading never raises.  A hand-edited file always has some mistake somewhere,
and one typo must not take the user's other commands (or the whole config)
down with it: every bad entry becomes a :class:`QuickCommandProblem` naming
its key path, is dropped, and the rest load.

Names are case-insensitive: they are stored lower-cased (``GS`` and ``gs`` are
the same command, and defining both is a problem), matching the registry,
which looks commands up lower-cased too.

Alias chains are resolved at load time, so that a cycle or an absurdly deep
chain is a start-up message rather than a hang (or a ``RecursionError``) the
first time somebody types the alias.  :func:`expand_alias` walks the chain
again at use time, with the same bound, because it may be handed a mapping
that did not come from :func:`load_quick_commands`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from talaria.commands.quick_exec import ExecOutcome, preview, run_exec, split_args
from talaria.errors import TalariaError

__all__ = [
    "MAX_ALIAS_DEPTH",
    "AliasCommand",
    "ExecCommand",
    "ExecOutcome",
    "QuickCommand",
    "QuickCommandError",
    "QuickCommandProblem",
    "describe",
    "expand_alias",
    "load_quick_commands",
    "preview",
    "run_exec",
    "split_args",
]

MAX_ALIAS_DEPTH = 8
"""Rewrites one alias invocation may go through before reaching a real command."""

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_OUTPUT = 8000

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_EXEC_KEYS = frozenset({"type", "command", "timeout", "max_output", "description"})
_ALIAS_KEYS = frozenset({"type", "target", "description"})

_Report = Callable[[str, str], None]
"""``problem(key, message)``: how the parsers report an invalid entry."""


class QuickCommandError(TalariaError):
    """A quick command cannot be expanded or started; the message is for the user."""


@dataclass(frozen=True, slots=True)
class ExecCommand:
    """Runs a shell snippet without calling the model.

    ``{args}`` in ``command`` marks where the user's arguments go; without it
    they are appended.  See :func:`talaria.commands.quick_exec.run_exec`.
    """

    name: str
    command: str
    timeout: float = DEFAULT_TIMEOUT_S
    max_output: int = DEFAULT_MAX_OUTPUT
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AliasCommand:
    """Rewrites to ``target`` (always ``/name [its own args]``), forwarding the user's args."""

    name: str
    target: str
    description: str | None = None


QuickCommand = ExecCommand | AliasCommand


@dataclass(frozen=True, slots=True)
class QuickCommandProblem:
    """One invalid entry, reported once at start-up; ``key`` is the path in the file."""

    key: str
    message: str
    source: str = "config.yaml"

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.message}"


def split_line(line: str) -> tuple[str, str]:
    """``"/model x y"`` → ``("model", "x y")``: the lower-cased head and the rest."""
    parts = line.strip().removeprefix("/").split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0].lower(), parts[1].strip() if len(parts) > 1 else ""


def join_args(target: str, args: str) -> str:
    """The target's own arguments first, then the user's."""
    args = args.strip()
    return f"{target} {args}" if args else target


def describe(cmd: QuickCommand) -> str:
    """One line for ``/help``: the user's description, or what the command does."""
    if cmd.description:
        return cmd.description
    if isinstance(cmd, ExecCommand):
        return "runs: " + " ".join(cmd.command.split())
    return f"alias for {cmd.target}"


def expand_alias(cmd: AliasCommand, args: str, quick: Mapping[str, QuickCommand]) -> str:
    """The command line ``cmd`` stands for, with ``args`` forwarded, following alias chains.

    The result always starts with ``/`` and names a command that is not a quick
    alias (a built-in or an ``exec``, which the caller dispatches).  Raises
    :class:`QuickCommandError` on a cycle or a chain deeper than
    :data:`MAX_ALIAS_DEPTH`, which :func:`load_quick_commands` already refuses.
    """
    line = join_args(cmd.target, args)
    chain = [cmd.name]
    while True:
        head, rest = split_line(line)
        nxt = quick.get(head)
        if not isinstance(nxt, AliasCommand):
            return line
        if nxt.name in chain:
            raise QuickCommandError("alias cycle " + _arrow([*chain, nxt.name]))
        chain.append(nxt.name)
        if len(chain) > MAX_ALIAS_DEPTH:
            raise QuickCommandError(
                f"alias chain deeper than {MAX_ALIAS_DEPTH}: {_arrow(chain)} → …"
            )
        line = join_args(nxt.target, rest)


def load_quick_commands(
    raw: object,
    *,
    builtin_names: Collection[str],
    source: str = "config.yaml",
) -> tuple[dict[str, QuickCommand], list[QuickCommandProblem]]:
    """Validate the raw ``quick_commands`` mapping; returns the usable commands and the problems.

    ``builtin_names`` holds every built-in name *and alias*: a quick command may
    not shadow any of them (built-ins are checked first, so it would be dead,
    and an alias silently replacing ``/stop`` would be worse).
    """
    problems: list[QuickCommandProblem] = []

    def problem(key: str, message: str) -> None:
        problems.append(QuickCommandProblem(key, message, source))

    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping):
        problem("quick_commands", "must be a mapping of name → {type: exec|alias, …}")
        return {}, problems
    builtins = {n.lower().removeprefix("/") for n in builtin_names}
    commands: dict[str, QuickCommand] = {}
    broken: set[str] = set()  # entries that exist but were dropped, for clearer alias errors
    for key, entry in raw.items():
        path = f"quick_commands.{key}"
        name = str(key).strip().removeprefix("/").lower()
        if not isinstance(key, str) or not _NAME.fullmatch(name):
            problem(path, "a name must start with a letter and contain only a-z, 0-9, - and _")
            continue
        if name in builtins:
            problem(path, f"/{name} is a built-in command; a quick command may not shadow it")
            continue
        if name in commands or name in broken:
            problem(path, f"/{name} is defined twice (names are case-insensitive)")
            continue
        cmd = _parse_entry(name, entry, path, problem)
        if cmd is None:
            broken.add(name)
        else:
            commands[name] = cmd
    _check_aliases(commands, builtins, broken, problem)
    return commands, problems


def _parse_entry(name: str, entry: Any, path: str, problem: _Report) -> QuickCommand | None:
    if not isinstance(entry, Mapping):
        problem(path, "must be a mapping such as {type: exec, command: …}")
        return None
    kind = entry.get("type")
    if kind not in ("exec", "alias"):
        what = "is missing" if kind is None else f"{kind!r} is unknown"
        problem(f"{path}.type", f"{what}; use exec or alias")
        return None
    allowed = _EXEC_KEYS if kind == "exec" else _ALIAS_KEYS
    unknown = sorted(str(k) for k in entry if k not in allowed)
    if unknown:
        allowed_list = ", ".join(sorted(allowed))
        problem(f"{path}.{unknown[0]}", f"unknown key for type {kind} (allowed: {allowed_list})")
        return None
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        problem(f"{path}.description", "must be text")
        return None
    if kind == "alias":
        return _parse_alias(name, entry.get("target"), description, f"{path}.target", problem)
    return _parse_exec(name, entry, description, path, problem)


def _parse_alias(
    name: str, target: Any, description: str | None, key: str, problem: _Report
) -> AliasCommand | None:
    if not isinstance(target, str) or not target.strip():
        problem(key, "is missing; an alias needs a target command such as /context")
        return None
    head, rest = split_line(target)
    if not _NAME.fullmatch(head):
        problem(key, f"{target.strip()!r} does not start with a command name")
        return None
    return AliasCommand(name, join_args(f"/{head}", rest), description)


def _parse_exec(
    name: str, entry: Mapping[str, Any], description: str | None, path: str, problem: _Report
) -> ExecCommand | None:
    command = entry.get("command")
    if not isinstance(command, str) or not command.strip():
        problem(f"{path}.command", "is missing; an exec needs the shell command to run")
        return None
    quoted = _quoted_placeholder(command)
    if quoted:
        problem(
            f"{path}.command",
            f"{{args}} is inside {quoted} quotes; remove them, each argument is quoted for you",
        )
        return None
    if "{args}" in command and re.search(r"(?<!<)<<(?!<)", command):
        problem(f"{path}.command", "{args} cannot be used in a command with a here-document")
        return None
    timeout = entry.get("timeout", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        problem(f"{path}.timeout", f"must be a number of seconds, got {timeout!r}")
        return None
    if not math.isfinite(timeout) or timeout <= 0:
        problem(f"{path}.timeout", f"must be a positive number of seconds, got {timeout!r}")
        return None
    max_output = entry.get("max_output", DEFAULT_MAX_OUTPUT)
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output <= 0:
        problem(f"{path}.max_output", f"must be a positive whole number, got {max_output!r}")
        return None
    return ExecCommand(name, command.strip(), float(timeout), max_output, description)


def _check_aliases(
    commands: dict[str, QuickCommand], builtins: set[str], broken: set[str], problem: _Report
) -> None:
    """Drop every alias that does not reach a built-in or an exec within the depth bound.

    Each alias is walked on its own (bounded: a walk stops at a repeat or past
    the depth limit), so no recursion and no fixed-point iteration is needed.
    Root causes are reported once: a cycle by one problem naming it, a chain
    that is too deep by one problem per chain head; an alias that merely leads
    into a bad one is told which target is at fault.
    """
    aliases = {n: c for n, c in commands.items() if isinstance(c, AliasCommand)}
    walks = {name: _walk(name, aliases) for name in sorted(aliases)}
    dropped: dict[str, str | None] = {}  # alias → its own message (None: reported elsewhere)
    cycles: set[tuple[str, ...]] = set()
    too_deep: set[str] = set()
    for name, path in walks.items():
        target, last = path[1], path[-1]
        if last in path[:-1]:
            cycle = _canonical_cycle(path[path.index(last) : -1])
            cycles.add(cycle)
            in_cycle = path.index(last) == 0
            dropped[name] = None if in_cycle else f"/{target} leads into the {_cycle(cycle)}"
        elif len(path) - 1 > MAX_ALIAS_DEPTH:
            too_deep.add(name)
            dropped[name] = None
        elif last in builtins or last in commands:
            continue
        elif len(path) > 2:
            dropped[name] = f"/{target} is an alias that cannot be used (see {_key(target)})"
        elif last in broken:
            dropped[name] = f"/{target} is an invalid quick command (see {_key(target)})"
        else:
            dropped[name] = f"/{target} is not a built-in or quick command"
    for cycle in sorted(cycles):
        problem(f"quick_commands.{cycle[0]}.target", _cycle(cycle))
    heads = too_deep - {n for t in too_deep for n in walks[t][1:]}
    for head in sorted(heads):
        chain = [head]  # every too-deep alias this head drags down, past the walk's cut-off
        while (nxt := split_line(aliases[chain[-1]].target)[0]) in too_deep and nxt not in chain:
            chain.append(nxt)
        problem(
            f"quick_commands.{head}.target",
            f"alias chain deeper than {MAX_ALIAS_DEPTH}: {_arrow(walks[head])} → … "
            f"(dropped {', '.join('/' + n for n in chain)})",
        )
    for name, message in sorted(dropped.items()):
        if message is not None:
            problem(f"quick_commands.{name}.target", message)
        del commands[name]


def _walk(start: str, aliases: Mapping[str, AliasCommand]) -> list[str]:
    """Names visited from ``start``: ends at a non-alias, a repeat, or past the depth limit."""
    path = [start]
    while path[-1] in aliases and len(path) <= MAX_ALIAS_DEPTH + 1:
        nxt = split_line(aliases[path[-1]].target)[0]
        path.append(nxt)
        if nxt in path[:-1]:
            break
    return path


def _canonical_cycle(members: list[str]) -> tuple[str, ...]:
    """The cycle rotated to start at its smallest name, so it is reported once."""
    i = members.index(min(members))
    return tuple(members[i:] + members[:i])


def _quoted_placeholder(command: str) -> str | None:
    """``"single"``/``"double"`` when an ``{args}`` sits inside quotes, else ``None``.

    Arguments reach the shell as positional parameters (``"$@"``): inside single
    quotes that would print a literal ``"$@"``, inside double quotes it would
    word-split and glob them.  Neither is what the author meant, so it is a
    config error rather than a surprise.
    """
    state: str | None = None  # None, "single", "double"
    i = 0
    while i < len(command):
        if command.startswith("{args}", i) and state is not None:
            return state
        ch = command[i]
        if ch == "\\" and state != "single":
            i += 2
            continue
        if state is None and ch == "'":
            state = "single"
        elif state is None and ch == '"':
            state = "double"
        elif (state == "single" and ch == "'") or (state == "double" and ch == '"'):
            state = None
        i += 1
    return None


def _arrow(names: Iterable[str]) -> str:
    return " → ".join("/" + n for n in names)


def _key(name: str) -> str:
    return f"quick_commands.{name}"


def _cycle(cycle: tuple[str, ...]) -> str:
    return "alias cycle " + _arrow([*cycle, cycle[0]])
