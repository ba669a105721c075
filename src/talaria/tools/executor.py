"""Executing one turn's tool calls: concurrently, results in call order.

Each call is isolated: an unknown tool, arguments that fail validation, or a
tool that raises produce an error *result* (the model reads it and adapts); only
cancellation propagates, because cancellation is the interrupt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from talaria.errors import ToolError
from talaria.events import EventSink, ToolFinished, ToolStarted
from talaria.textutil import one_line, truncate_middle
from talaria.tools.base import ToolContext
from talaria.tools.registry import ToolRegistry
from talaria.types import ToolCall, ToolResult

log = logging.getLogger(__name__)


async def execute_calls(
    calls: Sequence[ToolCall], tools: ToolRegistry, ctx: ToolContext, sink: EventSink
) -> list[ToolResult]:
    if len(calls) == 1:
        return [await execute_one(calls[0], tools, ctx, sink)]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(execute_one(c, tools, ctx, sink)) for c in calls]
    return [t.result() for t in tasks]


async def execute_one(
    call: ToolCall, tools: ToolRegistry, ctx: ToolContext, sink: EventSink
) -> ToolResult:
    sink.emit(ToolStarted(call_id=call.id, name=call.name, arguments=call.arguments))
    start = time.monotonic()
    is_error = False
    tool = tools.get(call.name)
    try:
        if tool is None:
            known = ", ".join(tools.names) or "none"
            raise ToolError(f"unknown tool '{call.name}'; available tools: {known}")
        content = await tool.invoke(ctx, call.arguments)
    except ToolError as e:
        is_error = True
        content = f"Error: {e}"
    except Exception as e:  # a tool bug must not end the run: the model gets the error
        is_error = True
        log.warning("tool %s raised", call.name, exc_info=True)
        content = f"Error: {call.name} failed: {type(e).__name__}: {e}"
    content = ctx.redact(content)
    if tool is None or not tool.caps_own_output:
        content = truncate_middle(content, ctx.settings.config.agent.max_tool_output_chars)
    duration = time.monotonic() - start
    sink.emit(
        ToolFinished(
            call_id=call.id,
            name=call.name,
            is_error=is_error,
            duration_s=duration,
            preview=one_line(content, 200),
        )
    )
    return ToolResult(
        call_id=call.id, name=call.name, content=content, is_error=is_error, duration_s=duration
    )
