"""One slash-command registry, shared by the REPL and (later) every gateway platform.

A command is data — name, aliases, argument spec, help, where it is available,
whether it may run while the agent is busy — plus an async handler that acts on
a :class:`CommandContext`.  The REPL and each gateway implement that context;
neither keeps its own dispatch table, so a command behaves the same everywhere
and an unknown ``/command`` is answered here ("did you mean …"), never sent to
the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from talaria.commands.context import CommandContext

Surface = Literal["cli", "gateway"]
BOTH: frozenset[Surface] = frozenset({"cli", "gateway"})
CLI_ONLY: frozenset[Surface] = frozenset({"cli"})


@dataclass(frozen=True, slots=True)
class Arg:
    """One positional argument.  ``rest`` takes the remainder of the line verbatim."""

    name: str
    required: bool = False
    rest: bool = False
    help: str = ""


@dataclass(frozen=True, slots=True)
class Invocation:
    command: Command
    raw_args: str
    args: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command produced: text to show, and whether it was an error."""

    text: str = ""
    error: bool = False


Handler = Callable[["CommandContext", Invocation], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    args: tuple[Arg, ...] = ()
    where: frozenset[Surface] = BOTH
    while_busy: bool = False

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for a in self.args:
            label = a.name + ("…" if a.rest else "")
            parts.append(f"<{label}>" if a.required else f"[{label}]")
        return " ".join(parts)


class CommandError(Exception):
    """Bad usage of a command; the message is shown to the user."""


@dataclass
class CommandRegistry:
    _commands: dict[str, Command] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def register(self, command: Command) -> Command:
        for name in (command.name, *command.aliases):
            key = name.lower()
            if key in self._names:
                raise ValueError(f"command name /{name} is already taken")
            self._names[key] = command.name
        self._commands[command.name] = command
        return command

    def get(self, name: str) -> Command | None:
        real = self._names.get(name.lower().lstrip("/"))
        return self._commands.get(real) if real else None

    def commands(self, surface: Surface | None = None) -> list[Command]:
        cmds = sorted(self._commands.values(), key=lambda c: c.name)
        return [c for c in cmds if surface is None or surface in c.where]

    @property
    def all_names(self) -> set[str]:
        """Every name and alias (quick commands may not shadow any of them)."""
        return set(self._names)

    def suggest(self, name: str, extra: Iterable[str] = ()) -> list[str]:
        pool = [*self._names, *extra]
        return difflib.get_close_matches(name.lower(), pool, n=3, cutoff=0.6)


def split_command(line: str) -> tuple[str, str] | None:
    """``"/model gpt-4o"`` → ``("model", "gpt-4o")``; ``None`` when not a command.

    A line is a command when it starts with ``/`` followed by a letter; ``/`` alone
    or a path such as ``/etc/hosts is weird`` is a message for the model.
    """
    text = line.strip()
    if len(text) < 2 or text[0] != "/" or not text[1].isalpha():
        return None
    head, _, rest = text[1:].partition(" ")
    if "/" in head:
        return None
    return head, rest.strip()


def parse_args(command: Command, raw: str) -> dict[str, str]:
    """Bind ``raw`` to ``command.args``; raises CommandError with the usage line.

    Words are shell-split (quotes group words); a final ``rest`` argument takes
    the remainder of the line verbatim (``/title My "quoted" title``).
    """
    values: dict[str, str] = {}
    positional = [a for a in command.args if not a.rest]
    rest = next((a for a in command.args if a.rest), None)
    text = raw.strip()
    for arg in positional:
        if not text:
            break
        word, text = _next_word(text)
        values[arg.name] = word
    if rest is not None and text:
        values[rest.name] = text
    elif text:
        raise CommandError(f"too many arguments; usage: {command.usage}")
    missing = [a.name for a in command.args if a.required and a.name not in values]
    if missing:
        raise CommandError(f"missing {', '.join(missing)}; usage: {command.usage}")
    return values


def _next_word(text: str) -> tuple[str, str]:
    """First shell-like word of ``text`` (quotes group, and are removed) and the rest."""
    if text[0] in "'\"":
        end = text.find(text[0], 1)
        if end == -1:  # unbalanced quote: the rest is one word
            return text[1:], ""
        return text[1:end], text[end + 1 :].strip()
    word, _, rest = text.partition(" ")
    return word, rest.strip()
