"""Agent-loop overhead per turn, excluding the provider.

A zero-latency provider answers every request with one text delta and one cheap
tool call (``todo`` reading the list) until the last turn.  We measure CPU time
for the whole run, subtract the CPU time of the provider alone serving the same
number of replies, and report the difference per turn: the cost of Talaria's
loop (request building, events, tool dispatch and validation, transcript).

    uv run python bench/loop_overhead.py [--turns 500]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path

from talaria.agent.agent import Agent
from talaria.agent.stream import EventStream
from talaria.config import Settings
from talaria.events import TextDelta
from talaria.providers.base import ModelRequest, ModelResponse, StreamItem
from talaria.runtime import Runtime
from talaria.types import Message, ToolCall, Usage


class ZeroLatencyProvider:
    """Answers instantly with prebuilt responses: its own cost is near zero, and is
    measured separately anyway."""

    name = "bench"
    model = "bench-model"

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.calls = 0
        usage = Usage(input_tokens=10, output_tokens=2)
        self._tool = ModelResponse(
            message=Message(role="assistant", tool_calls=(ToolCall("call_1", "todo", "{}"),)),
            usage=usage,
            finish_reason="tool_calls",
            model=self.model,
            provider=self.name,
        )
        self._final = ModelResponse(
            message=Message(role="assistant", content="finished"),
            usage=usage,
            finish_reason="stop",
            model=self.model,
            provider=self.name,
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamItem, None]:
        self.calls += 1
        yield TextDelta(text="thinking ")
        yield self._final if self.calls >= self.turns else self._tool

    async def aclose(self) -> None:
        pass


async def run_agent(turns: int, home: Path, *, record: bool) -> tuple[float, float]:
    settings = Settings.for_home(home, **{"agent.max_iterations": turns + 5, "toolsets": ["todo"]})
    provider = ZeroLatencyProvider(turns)
    runtime = Runtime()
    agent = Agent(settings, model_provider=provider, runtime=runtime, cwd=home, record=record)
    stream = EventStream()
    run = agent.prepare("go", runtime=runtime, sink=stream)

    async def drain() -> None:
        async for _ in stream:
            pass

    consumer = asyncio.ensure_future(drain())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await run.execute()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    stream.close()
    await consumer
    assert result.status == "completed", result.error
    assert result.api_calls == turns
    await runtime.aclose()
    return cpu1 - cpu0, wall1 - wall0


async def provider_only(turns: int) -> float:
    provider = ZeroLatencyProvider(turns)
    request = ModelRequest(messages=())
    cpu0 = time.process_time()
    for _ in range(turns):
        async for _ in provider.stream(request):
            pass
    return time.process_time() - cpu0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=500)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="talaria-bench-"))
    await run_agent(20, home, record=True)  # warm up imports, caches and the store
    base = await provider_only(args.turns)
    print(f"turns: {args.turns}  (transcript grows to {2 * args.turns + 1} messages)")
    print(f"provider alone CPU {base * 1000:.0f} ms")
    for record in (False, True):
        cpu, wall = await run_agent(args.turns, home, record=record)
        per_turn = (cpu - base) / args.turns * 1000
        label = "recording every message to the store" if record else "no session store"
        print(
            f"{label:38} run CPU {cpu * 1000:5.0f} ms, wall {wall * 1000:5.0f} ms, "
            f"loop overhead {per_turn:.3f} ms CPU per turn (target < 2 ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())
