"""Turning a line the user typed into a command run — or deciding it is a message.

Order: built-in commands, then quick commands (``exec`` runs a shell snippet,
``alias`` rewrites the line and dispatches again).  Anything that starts like a
command but is neither gets "unknown command, did you mean …" and never
reaches the model.
"""

from __future__ import annotations

from collections.abc import Mapping

from talaria.commands.context import CommandContext
from talaria.commands.quick import (
    AliasCommand,
    ExecCommand,
    QuickCommand,
    QuickCommandError,
    describe,
    expand_alias,
    run_exec,
)
from talaria.commands.registry import (
    CommandError,
    CommandRegistry,
    Invocation,
    Outcome,
    Surface,
    parse_args,
    split_command,
)


class Dispatcher:
    def __init__(
        self,
        registry: CommandRegistry,
        quick: Mapping[str, QuickCommand] | None = None,
        *,
        surface: Surface = "cli",
    ) -> None:
        self.registry = registry
        self.quick: dict[str, QuickCommand] = dict(quick or {})
        self.surface: Surface = surface

    def is_command(self, line: str) -> bool:
        return split_command(line) is not None

    async def dispatch(self, line: str, ctx: CommandContext) -> Outcome | None:
        """Run ``line`` if it is a command; ``None`` means "send it to the model"."""
        parsed = split_command(line)
        if parsed is None:
            return None
        name, raw = parsed
        command = self.registry.get(name)
        if command is not None:
            if self.surface not in command.where:
                return Outcome(f"/{command.name} is not available here", error=True)
            if ctx.busy and not command.while_busy:
                return Outcome(
                    f"/{command.name} cannot run while the agent is working; /stop it first",
                    error=True,
                )
            try:
                args = parse_args(command, raw)
            except CommandError as e:
                return Outcome(str(e), error=True)
            if command.name == "help":
                return Outcome(self.help_text(args.get("topic")))
            try:
                return await command.handler(ctx, Invocation(command, raw, args))
            except CommandError as e:
                return Outcome(str(e), error=True)
        quick = self.quick.get(name.lower())
        if isinstance(quick, AliasCommand):
            try:
                line = expand_alias(quick, raw, self.quick)
            except QuickCommandError as e:
                return Outcome(str(e), error=True)
            return await self.dispatch(line, ctx)
        if isinstance(quick, ExecCommand):
            if ctx.busy:
                return Outcome(f"/{quick.name} cannot run while the agent is working", error=True)
            env = ctx.exec_environment()
            outcome = await run_exec(
                quick,
                raw,
                cwd=env.cwd,
                env=env.env,
                redact=env.redact,
                shell=env.shell,
                passthrough=env.passthrough,
            )
            return Outcome(outcome.render(), error=not outcome.ok)
        hints = self.registry.suggest(name, self.quick)
        hint = f"; did you mean {', '.join('/' + h for h in hints)}?" if hints else ""
        return Outcome(f"unknown command /{name}{hint} (/help lists them)", error=True)

    def help_text(self, topic: str | None = None) -> str:
        if topic:
            cmd = self.registry.get(topic)
            if cmd is not None:
                aliases = (
                    f" (also {', '.join('/' + a for a in cmd.aliases)})" if cmd.aliases else ""
                )
                busy = "" if cmd.while_busy else " Not while the agent is working."
                return f"{cmd.usage}{aliases}\n  {cmd.help}.{busy}"
            quick = self.quick.get(topic.lower().lstrip("/"))
            if quick is not None:
                return f"/{quick.name}: {describe(quick)}"
            return f"no command /{topic.lstrip('/')}"
        lines = ["Commands:"]
        for cmd in self.registry.commands(self.surface):
            lines.append(f"  {cmd.usage:<22} {cmd.help}")
        if self.quick:
            lines.append("Quick commands (from config.yaml):")
            for name in sorted(self.quick):
                lines.append(f"  /{name:<21} {describe(self.quick[name])}")
        lines.append("Enter sends; Alt-Enter (or Esc then Enter, or a trailing \\) adds a line.")
        lines.append("Ctrl-C stops the agent; at an empty prompt Ctrl-D (or Ctrl-C twice) exits.")
        return "\n".join(lines)

    def command_words(self) -> list[str]:
        """Every ``/word`` for completion."""
        words = {c.name for c in self.registry.commands(self.surface)}
        for c in self.registry.commands(self.surface):
            words.update(c.aliases)
        words.update(self.quick)
        return sorted("/" + w for w in words)
