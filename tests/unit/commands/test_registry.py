"""The command registry and dispatcher: one table for every surface."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from talaria.commands.builtins import builtin_registry
from talaria.commands.context import ContextReport, ExecEnvironment
from talaria.commands.dispatch import Dispatcher
from talaria.commands.quick import load_quick_commands
from talaria.commands.registry import (
    Arg,
    Command,
    CommandError,
    Invocation,
    Outcome,
    parse_args,
    split_command,
)


class FakeContext:
    """Records what the commands asked for; stands in for the REPL or a gateway."""

    def __init__(self, surface: str = "cli", busy: bool = False, cwd: Path | None = None) -> None:
        self._surface = surface
        self._busy = busy
        self.calls: list[tuple[str, Any]] = []
        self.cwd = cwd or Path.cwd()

    @property
    def surface(self) -> Any:
        return self._surface

    @property
    def busy(self) -> bool:
        return self._busy

    def model_label(self) -> str:
        return "fake/model"

    def provider_report(self) -> str:
        return "provider fake"

    def context_report(self) -> ContextReport:
        return ContextReport("m", 100, 4, 1000, 10000)

    async def usage_report(self) -> str:
        return "usage report"

    def tool_report(self) -> Sequence[tuple[str, str, str]]:
        return [("terminal", "terminal", "run a command")]

    def toolset_report(self) -> Sequence[tuple[str, bool]]:
        return [("terminal", True), ("web", False)]

    async def sessions_report(self, limit: int) -> str:
        self.calls.append(("sessions", limit))
        return "sessions"

    async def agents_report(self) -> str:
        return "agents"

    def exec_environment(self) -> ExecEnvironment:
        return ExecEnvironment(cwd=self.cwd, env={"PATH": "/usr/bin:/bin"}, redact=lambda s: s)

    async def new_session(self) -> str:
        self.calls.append(("new", None))
        return "new"

    async def set_model(self, name: str) -> str:
        self.calls.append(("model", name))
        return f"model: {name}"

    async def resume(self, ident: str) -> str:
        self.calls.append(("resume", ident))
        return "resumed"

    async def set_title(self, title: str) -> str:
        self.calls.append(("title", title))
        return f"title: {title}"

    async def retry(self) -> str:
        return "retry"

    async def undo(self) -> str:
        return "undo"

    async def stop(self) -> str:
        self.calls.append(("stop", None))
        return "stopping"

    async def compress(self) -> str:
        self.calls.append(("compress", None))
        return "compressed"

    async def quit(self) -> str:
        self.calls.append(("quit", None))
        return ""


def _dispatcher(quick_raw: dict[str, Any] | None = None) -> Dispatcher:
    reg = builtin_registry()
    quick, problems = load_quick_commands(quick_raw or {}, builtin_names=reg.all_names)
    assert problems == []
    return Dispatcher(reg, quick)


def test_split_command_only_takes_command_words() -> None:
    assert split_command("/model gpt-4o") == ("model", "gpt-4o")
    assert split_command("  /help  ") == ("help", "")
    assert split_command("hello /model") is None
    assert split_command("/etc/hosts looks odd") is None  # a path is a message
    assert split_command("/") is None
    assert split_command("/ 1") is None


def test_argument_parsing() -> None:
    async def h(ctx: Any, inv: Invocation) -> Outcome:
        return Outcome()

    one = Command("x", "x", h, args=(Arg("name", required=True),))
    rest = Command("t", "t", h, args=(Arg("text", required=True, rest=True),))
    both = Command("g", "g", h, args=(Arg("first"), Arg("more", rest=True)))
    assert parse_args(one, "a") == {"name": "a"}
    assert parse_args(one, '"a b"') == {"name": "a b"}
    with pytest.raises(CommandError, match="missing name"):
        parse_args(one, "")
    with pytest.raises(CommandError, match="too many arguments"):
        parse_args(one, "a b")
    assert parse_args(rest, 'My "quoted" title') == {"text": 'My "quoted" title'}
    assert parse_args(both, "'x y' and the rest") == {"first": "x y", "more": "and the rest"}


async def test_builtins_dispatch_to_the_context() -> None:
    d = _dispatcher()
    ctx = FakeContext()
    out = await d.dispatch("/model gpt-4o", ctx)
    assert out is not None and out.text == "model: gpt-4o" and not out.error
    out = await d.dispatch("/model", ctx)
    assert out is not None and out.text == "model: fake/model"
    await d.dispatch("/reset", ctx)  # alias of /new
    await d.dispatch("/title  Release notes for v2 ", ctx)
    await d.dispatch("/sessions 5", ctx)
    assert ctx.calls == [
        ("model", "gpt-4o"),
        ("new", None),
        ("title", "Release notes for v2"),
        ("sessions", 5),
    ]
    out = await d.dispatch("/context", ctx)
    assert out is not None and "10.0% of the window" in out.text


async def test_messages_are_not_commands() -> None:
    d = _dispatcher()
    assert await d.dispatch("please /model the thing", FakeContext()) is None
    assert await d.dispatch("/etc/passwd is a file", FakeContext()) is None


async def test_unknown_command_suggests_and_never_falls_through() -> None:
    d = _dispatcher()
    out = await d.dispatch("/modle x", FakeContext())
    assert out is not None and out.error
    assert "unknown command /modle" in out.text and "/model" in out.text
    out = await d.dispatch("/zzzzzz", FakeContext())
    assert out is not None and out.error and "did you mean" not in out.text


async def test_busy_and_surface_flags() -> None:
    d = _dispatcher()
    busy = FakeContext(busy=True)
    out = await d.dispatch("/new", busy)
    assert out is not None and out.error and "/stop" in out.text
    assert ("new", None) not in busy.calls
    out = await d.dispatch("/stop", busy)  # allowed while busy
    assert out is not None and out.text == "stopping"
    gateway = Dispatcher(builtin_registry(), surface="gateway")
    out = await gateway.dispatch("/quit", FakeContext(surface="gateway"))
    assert out is not None and out.error and "not available" in out.text
    assert "/quit" not in gateway.help_text()
    assert all("cli" in c.where for c in builtin_registry().commands("cli"))


async def test_help_lists_builtins_and_quick_commands() -> None:
    d = _dispatcher(
        {
            "gs": {"type": "exec", "command": "git status --short"},
            "sc": {"type": "alias", "target": "/context"},
        }
    )
    out = await d.dispatch("/help", FakeContext())
    assert out is not None
    for word in ("/model", "/new", "/agents", "/gs", "git status --short", "/sc", "/context"):
        assert word in out.text
    detail = await d.dispatch("/help model", FakeContext())
    assert detail is not None and "/model [name]" in detail.text


async def test_quick_exec_and_alias_through_the_dispatcher(tmp_path: Path) -> None:
    d = _dispatcher(
        {
            "say": {"type": "exec", "command": "echo said {args}"},
            "ctx": {"type": "alias", "target": "context"},
            "m": {"type": "alias", "target": "/model big"},
        }
    )
    ctx = FakeContext(cwd=tmp_path)
    out = await d.dispatch("/say hello $(whoami)", ctx)
    assert out is not None and "said hello $(whoami)" in out.text
    out = await d.dispatch("/ctx", ctx)
    assert out is not None and "context window" in out.text
    out = await d.dispatch("/m", ctx)
    assert out is not None and out.text == "model: big"


def test_registry_refuses_duplicate_names() -> None:
    reg = builtin_registry()

    async def h(ctx: Any, inv: Invocation) -> Outcome:
        return Outcome()

    with pytest.raises(ValueError, match="already taken"):
        reg.register(Command("exit", "clash with an alias", h))
