"""Building agents for tests: isolated home, scripted or loopback-served model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from talaria.agent.agent import Agent
from talaria.agent.run import Run
from talaria.agent.stream import EventStream
from talaria.config import Settings
from talaria.events import Event
from talaria.runtime import Runtime
from talaria.testing.replies import Reply
from talaria.testing.scripted import ScriptedProvider
from talaria.tools.base import Tool


def scripted_agent(
    tmp_path: Path,
    script: Sequence[Reply] | Any,
    *,
    tools: Iterable[Tool] = (),
    runtime: Runtime | None = None,
    **overrides: Any,
) -> tuple[Agent, ScriptedProvider]:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    settings = Settings.for_home(home, **{k.replace("__", "."): v for k, v in overrides.items()})
    provider = script if isinstance(script, ScriptedProvider) else ScriptedProvider(script)
    agent = Agent(
        settings, model_provider=provider, runtime=runtime or Runtime(), cwd=work, tools=tools
    )
    return agent, provider


async def run_collecting(
    agent: Agent, prompt: str, runtime: Runtime | None = None
) -> tuple[Any, list[Event]]:
    """Run ``prompt`` and return (result, every event emitted)."""
    rt = runtime or agent._runtime or Runtime()
    stream = EventStream()
    run: Run = agent.prepare(prompt, runtime=rt, sink=stream)
    result = await run.execute()
    stream.close()
    events = [e async for e in stream]
    return result, events
