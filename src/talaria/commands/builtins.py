"""The built-in slash commands, defined once for every surface."""

from __future__ import annotations

from talaria.commands.context import CommandContext
from talaria.commands.registry import (
    CLI_ONLY,
    Arg,
    Command,
    CommandRegistry,
    Invocation,
    Outcome,
)


async def _help(ctx: CommandContext, inv: Invocation) -> Outcome:
    # Filled in by the dispatcher, which knows the registry and the quick commands.
    return Outcome(inv.args.get("topic", ""))


async def _new(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.new_session())


async def _model(ctx: CommandContext, inv: Invocation) -> Outcome:
    name = inv.args.get("name")
    if not name:
        return Outcome(f"model: {ctx.model_label()}")
    return Outcome(await ctx.set_model(name))


async def _provider(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(ctx.provider_report())


async def _context(ctx: CommandContext, inv: Invocation) -> Outcome:
    r = ctx.context_report()
    window = f"{r.window:,}" if r.window else "unknown"
    pct = f" ({r.percent:.1f}% of the window)" if r.percent is not None else ""
    return Outcome(
        f"model {r.model}: context window {window} tokens\n"
        f"system prompt ≈ {r.system_prompt_tokens:,} tokens; {r.messages} messages; "
        f"≈ {r.tokens:,} tokens in total{pct}"
    )


async def _usage(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.usage_report())


async def _tools(ctx: CommandContext, inv: Invocation) -> Outcome:
    rows = ctx.tool_report()
    if not rows:
        return Outcome("no tools are enabled")
    width = max(len(r[0]) for r in rows)
    return Outcome("\n".join(f"{n:<{width}}  [{ts}]  {d}" for n, ts, d in rows))


async def _toolsets(ctx: CommandContext, inv: Invocation) -> Outcome:
    rows = ctx.toolset_report()
    return Outcome("\n".join(f"{'✓' if on else ' '} {name}" for name, on in rows))


async def _sessions(ctx: CommandContext, inv: Invocation) -> Outcome:
    raw = inv.args.get("limit", "10")
    limit = int(raw) if raw.isdigit() else 10
    return Outcome(await ctx.sessions_report(limit))


async def _resume(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.resume(inv.args["id"]))


async def _title(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.set_title(inv.args["text"]))


async def _retry(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.retry())


async def _undo(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.undo())


async def _agents(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.agents_report())


async def _compress(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.compress())


async def _stop(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.stop())


async def _quit(ctx: CommandContext, inv: Invocation) -> Outcome:
    return Outcome(await ctx.quit())


def builtin_registry() -> CommandRegistry:
    reg = CommandRegistry()
    add = reg.register
    add(
        Command(
            "help", "list commands, or explain one", _help, args=(Arg("topic"),), while_busy=True
        )
    )
    add(
        Command(
            "new",
            "start a new session (the current one is kept in the store)",
            _new,
            aliases=("reset",),
        )
    )
    add(Command("model", "show the model, or switch to another", _model, args=(Arg("name"),)))
    add(
        Command(
            "provider",
            "show the provider, endpoint and where its key comes from",
            _provider,
            while_busy=True,
        )
    )
    add(
        Command(
            "context", "what is in the context window and how full it is", _context, while_busy=True
        )
    )
    add(
        Command(
            "usage", "tokens and cost of this session and its subagents", _usage, while_busy=True
        )
    )
    add(Command("tools", "the tools the agent can call", _tools, while_busy=True))
    add(Command("toolsets", "toolsets, and which are enabled", _toolsets, while_busy=True))
    add(Command("sessions", "recent sessions", _sessions, args=(Arg("limit"),), while_busy=True))
    add(Command("resume", "continue a stored session", _resume, args=(Arg("id", required=True),)))
    add(
        Command("title", "name this session", _title, args=(Arg("text", required=True, rest=True),))
    )
    add(Command("retry", "ask the last message again", _retry))
    add(Command("compress", "summarise older messages now to free context", _compress))
    add(Command("undo", "remove the last exchange from the conversation", _undo))
    add(
        Command(
            "agents",
            "subagents of this session: status, model, tokens, elapsed",
            _agents,
            while_busy=True,
        )
    )
    add(Command("stop", "interrupt the current turn and its subagents", _stop, while_busy=True))
    add(
        Command(
            "quit",
            "leave (the session is kept)",
            _quit,
            aliases=("exit", "q"),
            where=CLI_ONLY,
            while_busy=True,
        )
    )
    return reg
