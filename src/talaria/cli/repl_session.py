"""The state behind the REPL: one conversation, its session, and the commands' effects.

Implements :class:`talaria.commands.context.CommandContext`.  Each message the
user sends is one run that continues the stored session (the first creates it),
so the session row always has an honest status between turns, and Ctrl-C ends
a turn as ``interrupted`` while keeping the partial transcript.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from talaria import concurrency
from talaria.commands.context import ContextReport, ExecEnvironment
from talaria.commands.registry import CommandError, Surface
from talaria.errors import ConfigError, TalariaError
from talaria.providers.models import context_window, estimate_tokens
from talaria.types import Message, RunResult, Usage

if TYPE_CHECKING:
    from talaria.agent.agent import Agent
    from talaria.agent.run import Run
    from talaria.config import Settings
    from talaria.runtime import Runtime
    from talaria.store.base import SessionStore


class ReplSession:
    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        *,
        out: TextIO,
        err: TextIO,
        fancy: bool,
        make_renderer: Callable[[], Any],
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.out = out
        self.err = err
        self.fancy = fancy
        self._make_renderer = make_renderer
        self.history: list[Message] = []
        self.session_id: str | None = None
        self.title: str | None = None
        self.usage = Usage()
        self.turns = 0
        self.current: Run | None = None
        self.quit_requested = False
        self._agent: Agent | None = None
        self._title_task: asyncio.Task[None] | None = None
        self.recent_ids: list[str] = []
        """Recent session ids (refreshed after each turn) for ``/resume`` completion."""
        self.notes: list[str] = []
        """Messages from background work (titling), shown before the next prompt."""

    # -- plumbing ------------------------------------------------------------------------
    @property
    def surface(self) -> Surface:
        return "cli"

    @property
    def busy(self) -> bool:
        return self.current is not None

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            from talaria.agent.agent import Agent

            self._agent = Agent(self.settings, runtime=self.runtime, source="cli")
        return self._agent

    async def store(self) -> SessionStore:
        return await self.runtime.astore(self.settings)

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- turns ----------------------------------------------------------------------------
    async def ask(self, prompt: str) -> RunResult:
        """One turn: run ``prompt`` in this conversation, rendering as it streams.

        The REPL's SIGINT handler interrupts :attr:`current` (the turn and its
        subagents); the partial transcript stays in the conversation and the session
        records ``interrupted``.
        """
        from talaria.agent.stream import EventStream

        stream = EventStream()
        run = self.agent.prepare(
            prompt,
            runtime=self.runtime,
            sink=stream,
            history=self.history,
            resume_id=self.session_id,
        )
        self.current = run
        renderer = self._make_renderer()
        consumer = asyncio.ensure_future(renderer.consume(stream))
        try:
            result = await run.execute()
        finally:
            stream.close()
            await consumer
            self.current = None
        self.history = list(result.messages)
        self.session_id = result.session_id or self.session_id
        self.usage += result.usage
        self.turns += 1
        self._maybe_title(result)
        await self.refresh_recent()
        if result.status == "interrupted":
            self.err.write("⏹ interrupted — the partial answer is kept; continue or /retry\n")
        elif result.status != "completed" and result.error:
            self.err.write(f"talaria: {result.status}: {result.error}\n")
        self.err.flush()
        return result

    async def refresh_recent(self) -> None:
        try:
            store = await self.store()
            rows = await concurrency.to_thread(store.list_sessions, limit=20)
        except TalariaError:
            return
        self.recent_ids = [r.id for r in rows if r.source != "subagent"]

    def _maybe_title(self, result: RunResult) -> None:
        """After the first exchange, name the session in the background."""
        if (
            self._title_task is not None
            or self.title
            or not self.settings.config.agent.auto_title
            or result.status != "completed"
            or not result.final
            or not self.session_id
        ):
            return
        first = next((m.content or "" for m in self.history if m.role == "user"), "")
        self._title_task = asyncio.ensure_future(self._title(self.session_id, first, result.final))

    async def _title(self, session_id: str, first: str, answer: str) -> None:
        from talaria.agent.titles import generate_title

        try:
            title, _ = await generate_title(self.runtime, self.settings, session_id, first, answer)
        except TalariaError as e:
            self.notes.append(f"could not title this session: {e}")
            return
        if self.session_id == session_id:
            self.title = title

    async def close(self, grace: float = 5.0) -> None:
        """Let a title still being written finish (briefly), then stop background work."""
        task = self._title_task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=grace)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        while self.notes:
            self.err.write(f"talaria: {self.notes.pop(0)}\n")
        self.err.flush()

    # -- reports -------------------------------------------------------------------------
    def model_label(self) -> str:
        m = self.settings.config.model
        return f"{m.provider}/{m.name}" if m.provider != "custom" else m.name

    def provider_report(self) -> str:
        from talaria.providers.factory import fallback_endpoints, primary_endpoint

        ep = primary_endpoint(self.settings)
        key = "set" if ep.api_key else ("missing" if ep.key_required else "not needed")
        lines = [
            f"provider {ep.provider}, model {ep.model}",
            f"endpoint {ep.base_url}",
            f"API key  {key} (from {ep.key_source})",
        ]
        for fb in fallback_endpoints(self.settings):
            lines.append(f"fallback {fb.provider}/{fb.model} at {fb.base_url}")
        return "\n".join(lines)

    def context_report(self) -> ContextReport:
        system = next((m.content or "" for m in self.history if m.role == "system"), "")
        if not system:
            from talaria.agent.prompt import build_system_prompt

            cfg = self.settings.config
            system = build_system_prompt(
                cwd=self.agent.cwd,
                tool_names=self.agent.tools.names,
                custom=cfg.agent.system_prompt,
            )
        tokens = sum(
            estimate_tokens((m.content or "") + "".join(c.arguments for c in m.tool_calls))
            for m in self.history
        ) or estimate_tokens(system)
        schema_tokens = estimate_tokens(str(self.agent.tools.schemas()))
        m = self.settings.config.model
        return ContextReport(
            model=m.name,
            system_prompt_tokens=estimate_tokens(system),
            messages=len(self.history),
            tokens=tokens + schema_tokens,
            window=context_window(m.name, m.context_length),
        )

    async def usage_report(self) -> str:
        u = self.usage
        cost = "unknown" if u.cost_usd is None else f"${u.cost_usd:.4f}"
        lines = [
            f"this conversation: {u.input_tokens:,} input + {u.output_tokens:,} output tokens, "
            f"cost {cost} (subagents included), {self.turns} turn(s)"
        ]
        if self.session_id:
            store = await self.store()
            kids = await concurrency.to_thread(store.children, self.session_id)
            kids = [k for k in kids if k.source == "subagent"]
            if kids:
                k_in = sum(k.input_tokens for k in kids)
                k_out = sum(k.output_tokens for k in kids)
                lines.append(f"subagents: {len(kids)}, {k_in:,} input + {k_out:,} output tokens")
            aux = await concurrency.to_thread(store.aux_usage, self.session_id)
            for task, a in aux.items():
                c = "" if a.usage.cost_usd is None else f", ${a.usage.cost_usd:.4f}"
                lines.append(
                    f"side task {task}: {a.calls} call(s), {a.usage.input_tokens:,} input + "
                    f"{a.usage.output_tokens:,} output tokens{c}"
                )
        return "\n".join(lines)

    def tool_report(self) -> Sequence[tuple[str, str, str]]:
        return [
            (t.name, t.toolset, t.description.strip().splitlines()[0] if t.description else "")
            for t in self.agent.tools
        ]

    def toolset_report(self) -> Sequence[tuple[str, bool]]:
        from talaria.tools.registry import available_toolsets

        enabled = set(self.settings.config.toolsets)
        return [(name, name in enabled) for name in available_toolsets()]

    async def sessions_report(self, limit: int) -> str:
        store = await self.store()
        rows = await concurrency.to_thread(store.list_sessions, limit=limit)
        rows = [r for r in rows if r.source != "subagent"]
        if not rows:
            return "no sessions yet"
        lines = []
        previews = await concurrency.to_thread(
            store.previews, [r.id for r in rows if not r.title], 60
        )
        for r in rows:
            mark = "*" if r.id == self.session_id else " "
            first = r.title or (f"“{previews[r.id]}”" if r.id in previews else "")
            lines.append(f"{mark} {r.id}  {r.status:<12} {r.message_count:>4} msgs  {first}")
        return "\n".join(lines)

    async def agents_report(self) -> str:
        if not self.session_id:
            return "no subagents yet"
        store = await self.store()
        kids = await concurrency.to_thread(store.children, self.session_id)
        kids = [k for k in kids if k.source == "subagent"]
        if not kids:
            return "no subagents in this session"
        now = time.time()
        lines = []
        for k in kids:
            elapsed = (k.ended_at or now) - k.started_at
            tokens = k.input_tokens + k.output_tokens
            lines.append(
                f"{k.id}  {k.status:<12} {k.model:<24} {tokens:>8,} tok {elapsed:7.1f}s  "
                f"{(k.goal or '')[:60]}"
            )
        return "\n".join(lines)

    def exec_environment(self) -> ExecEnvironment:
        from talaria.secrets import scrub_env

        term = self.settings.config.terminal
        return ExecEnvironment(
            cwd=self.agent.cwd,
            env=scrub_env(self.settings.env, term.env_passthrough),
            redact=self.settings.redactor(),
            shell=term.shell,
            passthrough=tuple(term.env_passthrough),
        )

    # -- actions --------------------------------------------------------------------------
    async def new_session(self) -> str:
        self.history, self.session_id, self.title = [], None, None
        self._title_task = None
        self.usage, self.turns = Usage(), 0
        return "new session started (the previous one stays in the store)"

    async def set_model(self, name: str) -> str:
        from talaria.config import load_settings
        from talaria.providers.factory import primary_endpoint
        from talaria.providers.presets import missing_key_message

        env = {**self.settings.env, "TALARIA_HOME": str(self.settings.paths.home)}
        try:
            settings = load_settings(env=env, overrides={"model.name": name}, use_process_env=False)
            ep = primary_endpoint(settings)
        except ConfigError as e:
            raise CommandError(str(e)) from None
        if ep.key_required and not ep.api_key:
            raise CommandError(missing_key_message(ep, str(settings.paths.env_file)))
        self.settings = settings
        self._agent = None
        return f"model: {self.model_label()} (the conversation continues)"

    async def resume(self, ident: str) -> str:
        store = await self.store()
        try:
            rec = await concurrency.to_thread(store.resolve, ident)
        except TalariaError as e:
            raise CommandError(str(e)) from None
        if rec.status == "running":
            raise CommandError(f"session {rec.id} is running in another process (pid {rec.pid})")
        stored = await concurrency.to_thread(store.messages, rec.id)
        self.history = [m.to_message() for m in stored]
        self.session_id, self.title = rec.id, rec.title
        self._title_task = None
        self.usage = Usage(rec.input_tokens, rec.output_tokens, cost_usd=rec.cost_usd)
        return (
            f"resumed {rec.id}"
            + (f" “{rec.title}”" if rec.title else "")
            + "\n"
            + recap(self.history)
        )

    async def set_title(self, title: str) -> str:
        if not self.session_id:
            raise CommandError("nothing to title yet: send a message first")
        store = await self.store()
        try:
            await concurrency.to_thread(store.rename, self.session_id, title)
        except TalariaError as e:
            raise CommandError(str(e)) from None
        self.title = title
        return f"title: {title}"

    def _last_user_index(self) -> int:
        for i in range(len(self.history) - 1, -1, -1):
            if self.history[i].role == "user":
                return i
        raise CommandError("there is no message to take back")

    async def undo(self) -> str:
        i = self._last_user_index()
        removed = len(self.history) - i
        self.history = self.history[:i]
        return (
            f"removed the last exchange ({removed} messages) from the conversation "
            "(the store keeps the full record)"
        )

    async def retry(self) -> str:
        i = self._last_user_index()
        prompt = self.history[i].content or ""
        self.history = self.history[:i]
        await self.ask(prompt)
        return ""

    async def compress(self) -> str:
        """Summarise the older part of the conversation now (``/compress``)."""
        from talaria.agent.compression import make_compressor
        from talaria.agent.recorder import Recorder
        from talaria.events import NullSink
        from talaria.store.base import NewSession

        compressor = make_compressor(
            self.runtime,
            self.settings,
            model=self.settings.config.model.name,
            schemas=self.agent.tools.schemas(),
        )
        try:
            result = await compressor.compress(self.history)
        except TalariaError as e:
            raise CommandError(f"compression failed: {e}") from None
        if result is None:
            return "nothing to compress yet (too few messages beyond the protected ones)"
        if self.session_id:
            settings, runtime = self.settings, self.runtime
            recorder = Recorder(
                lambda: runtime.astore(settings),
                NewSession(source="cli"),
                resume_id=self.session_id,
                already_stored=len(self.history),
            )
            await recorder.start(self.history, NullSink())
            await recorder.split(result.messages, reason="compression")
            await recorder.add_aux_usage("compression", result.usage)
            await recorder.finish_open()
            self.session_id = recorder.session_id
        self.history = list(result.messages)
        return (
            f"compressed {result.removed} messages into a summary (by {result.model}); "
            f"continuing in session {self.session_id or '(new)'}"
        )

    async def stop(self) -> str:
        if self.current is None:
            return "nothing is running"
        self.current.interrupt("stopped with /stop")
        return "stopping…"

    async def quit(self) -> str:
        self.quit_requested = True
        return ""


def recap(history: Sequence[Message], exchanges: int = 3) -> str:
    """The last few user/assistant exchanges, shortened, for resuming."""
    turns: list[str] = []
    for m in history:
        if m.role == "user":
            turns.append(f"  you: {_short(m.content)}")
        elif m.role == "assistant" and m.content:
            turns.append(f"  talaria: {_short(m.content)}")
    shown = turns[-2 * exchanges :]
    return "\n".join(shown) if shown else "  (no messages yet)"


def _short(text: str | None, limit: int = 200) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
