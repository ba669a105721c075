"""``Agent``: the library entry point.

An ``Agent`` is configuration (settings plus overrides); each ``run``/``arun``
creates an independent :class:`Run`, so one ``Agent`` may be used from many
threads at once.  All runs of the process execute on one event loop: ``run``
from synchronous code and ``arun`` from a foreign loop are forwarded to the
background loop, so HTTP clients and (later) the store are shared safely.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from talaria import concurrency
from talaria.agent.compression import make_compressor
from talaria.agent.loop import LoopConfig
from talaria.agent.prompt import build_system_prompt
from talaria.agent.recorder import Recorder
from talaria.agent.run import Run, RunSetup
from talaria.concurrency import Limiter
from talaria.config import Settings, load_settings
from talaria.delegation.context import DelegationContext
from talaria.delegation.policy import can_delegate, configure_delegation, inherited_depth
from talaria.events import Event, EventSink, NullSink
from talaria.providers.base import Provider
from talaria.providers.factory import build_provider
from talaria.runtime import Runtime, default_runtime
from talaria.secrets import scrub_env
from talaria.store.base import NewSession
from talaria.tools.base import Tool, ToolContext
from talaria.tools.registry import ToolRegistry, load_toolsets
from talaria.types import Message, RunResult


class LoopRelaySink:
    """Delivers events emitted on another loop to ``sink`` on ``loop`` (its owner)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: EventSink) -> None:
        self._loop = loop
        self._sink = sink

    def emit(self, event: Event) -> None:
        concurrency.marshal(self._loop, self._sink.emit, event)


class Agent:
    """A configured agent.  Cheap to create; every run is independent."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: str | None = None,
        provider: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        toolsets: Sequence[str] | None = None,
        max_iterations: int | None = None,
        system_prompt: str | None = None,
        cwd: str | os.PathLike[str] | None = None,
        tools: Iterable[Tool] = (),
        model_provider: Provider | None = None,
        runtime: Runtime | None = None,
        source: str = "api",
        record: bool = True,
    ) -> None:
        overrides: dict[str, Any] = {
            "model.name": model,
            "model.provider": provider,
            "model.base_url": base_url,
            "model.api_key": api_key,
            "toolsets": list(toolsets) if toolsets is not None else None,
            "agent.max_iterations": max_iterations,
            "agent.system_prompt": system_prompt,
        }
        if settings is None:
            settings = load_settings(overrides=overrides)
        elif any(v is not None for v in overrides.values()):
            settings = load_settings(
                env={**settings.env, "TALARIA_HOME": str(settings.paths.home)},
                overrides=overrides,
                use_process_env=False,
            )
        self.settings = settings
        self._extra_tools = tuple(tools)
        self._model_provider = model_provider
        self._runtime = runtime
        self.source = source
        self.record = record
        cfg = settings.config
        self.cwd = Path(cwd or cfg.agent.cwd or Path.cwd()).resolve()
        # An agent started from a subagent's shell (``talaria run`` inside ``terminal``)
        # inherits that subagent's depth, so max_depth cannot be dodged that way.
        self.depth = inherited_depth(settings.env)
        toolsets = list(cfg.toolsets)
        if not can_delegate(self.depth, cfg.delegation):
            toolsets = [t for t in toolsets if t != "delegation"]
        self.tools: ToolRegistry = configure_delegation(
            load_toolsets(toolsets, extra=self._extra_tools), cfg.delegation, depth=self.depth
        )
        self.redact = settings.redactor()

    def provider(self, runtime: Runtime) -> Provider:
        if self._model_provider is not None:
            return self._model_provider
        return build_provider(self.settings, runtime.pool)

    def prepare(
        self,
        prompt: str,
        *,
        runtime: Runtime,
        sink: EventSink | None = None,
        history: Sequence[Message] = (),
        resume_id: str | None = None,
    ) -> Run:
        """Build a :class:`Run` (not started).  Call on the loop that will execute it.

        ``history``: earlier messages to continue from; with ``resume_id`` they are
        that stored session's transcript and the run appends to the same session.
        """
        cfg = self.settings.config
        sink = sink or NullSink()
        ctx = ToolContext(
            run_id="",
            cwd=self.cwd,
            settings=self.settings,
            env=scrub_env(self.settings.env, cfg.terminal.env_passthrough),
            redact=self.redact,
            open_store=lambda: runtime.astore(self.settings),
            aux=lambda: runtime.aux(self.settings),
        )
        if history:
            messages = [*history, Message.user(prompt)]
        else:
            system = build_system_prompt(
                cwd=self.cwd, tool_names=self.tools.names, custom=cfg.agent.system_prompt
            )
            messages = [Message.system(system), Message.user(prompt)]
        provider = self.provider(runtime)
        recorder = None
        if self.record:
            settings = self.settings
            stored_prompt = next((m.content for m in messages if m.role == "system"), None)
            recorder = Recorder(
                lambda: runtime.astore(settings),
                NewSession(
                    source=self.source,
                    model=provider.model,
                    provider=provider.name,
                    system_prompt=stored_prompt,
                ),
                resume_id=resume_id,
                already_stored=len(history) if resume_id else 0,
            )
        if "delegate_task" in self.tools:
            ctx.delegation = DelegationContext(
                runtime=runtime,
                settings=self.settings,
                depth=self.depth,
                path=(),
                sink=sink,
                limiter=Limiter(cfg.delegation.max_concurrent_children),
                toolsets=tuple(self.tools.toolsets),
                provider=provider,
                record=self.record,
                recorder=recorder,
            )
        ctx.recorder = recorder
        setup = RunSetup(
            provider=provider,
            tools=self.tools,
            ctx=ctx,
            messages=tuple(messages),
            loop_config=LoopConfig(
                max_iterations=cfg.agent.max_iterations,
                max_tokens=cfg.model.max_tokens,
                temperature=cfg.model.temperature,
            ),
            sink=sink,
            recorder=recorder,
            compressor=make_compressor(
                runtime, self.settings, model=provider.model, schemas=self.tools.schemas()
            ),
        )
        run = Run(setup)
        ctx.run_id = run.run_id
        return run

    async def arun(self, prompt: str, *, sink: EventSink | None = None) -> RunResult:
        """Run to completion.  From a foreign loop, the run executes on the background loop."""
        if self._runtime is not None:
            return await self.prepare(prompt, runtime=self._runtime, sink=sink).execute()
        bg = concurrency.background_loop()
        here = asyncio.get_running_loop()
        if here is bg.loop:
            return await self._arun_default(prompt, sink)
        # The run lives on the background loop; the caller's sink lives on this one.
        relay = LoopRelaySink(here, sink) if sink is not None else None
        return await asyncio.wrap_future(bg.submit(self._arun_default(prompt, relay)))

    async def _arun_default(self, prompt: str, sink: EventSink | None) -> RunResult:
        return await self.prepare(prompt, runtime=default_runtime(), sink=sink).execute()

    def run(self, prompt: str) -> RunResult:
        """Synchronous ``arun``; safe to call from many threads at once."""
        if self._runtime is not None:
            raise RuntimeError("an Agent bound to a Runtime must be awaited with arun()")
        return concurrency.run_sync(self._arun_default(prompt, None))
