"""The turn loop: messages → provider → tool calls → results → repeat.

Deliberately small.  Each turn streams one model response (deltas are emitted
as events), appends the assistant message, runs the requested tools
concurrently (results appended in call order) and goes round again, until the
model answers without tools or the iteration budget is spent.  Everything that
can go wrong inside a tool becomes a result the model reads; provider errors
end the run as ``failed`` (the caller decides); cancellation is the interrupt
and is handled by :mod:`talaria.agent.run`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import Any

from talaria.agent.compression import Compressor, TokenLedger
from talaria.agent.recorder import Recorder
from talaria.errors import ContextOverflowError, ProviderError
from talaria.events import (
    EventSink,
    ModelRequestStarted,
    ModelResponded,
    Notice,
    ReasoningDelta,
    TextDelta,
)
from talaria.providers.base import ModelRequest, ModelResponse, Provider
from talaria.tools.base import ToolContext
from talaria.tools.executor import execute_calls
from talaria.tools.registry import ToolRegistry
from talaria.types import Message, RunStatus, Usage

# Warn the model this many calls before the budget runs out.
_WARN_WITHIN = 2


@dataclass
class LoopState:
    """Mutable progress of one run, owned by exactly one task."""

    messages: list[Message]
    usage: Usage = field(default_factory=Usage)
    api_calls: int = 0
    tool_calls: int = 0
    final: str | None = None
    partial_text: list[str] = field(default_factory=list)
    """Text streamed by the response in flight (kept if the run is interrupted)."""
    last_model: str = ""
    recorder: Recorder | None = None
    compressor: Compressor | None = None
    ledger: TokenLedger = field(default_factory=TokenLedger)

    async def add(self, *messages: Message) -> None:
        """Join the transcript and, when recording, the store (before going on)."""
        self.messages.extend(messages)
        if self.recorder is not None:
            await self.recorder.append(messages)


@dataclass(frozen=True)
class LoopConfig:
    max_iterations: int
    max_tokens: int | None = None
    temperature: float | None = None


async def run_turns(
    state: LoopState,
    *,
    provider: Provider,
    tools: ToolRegistry,
    ctx: ToolContext,
    sink: EventSink,
    config: LoopConfig,
) -> tuple[RunStatus, str | None]:
    """Run until a final answer or the budget; returns (status, error)."""
    schemas = tools.schemas()
    while state.api_calls < config.max_iterations:
        iteration = state.api_calls + 1
        sink.emit(
            ModelRequestStarted(iteration=iteration, model=provider.model, provider=provider.name)
        )
        if state.compressor is not None:
            state.ledger.sync(state.messages)
            if state.compressor.needed(state.ledger):
                await compress(state, ctx, sink, forced=False)
        try:
            response = await _call_model(provider, _request(state, schemas, config), state, sink)
        except ContextOverflowError:
            # The provider says it does not fit: compress once and retry once.
            if state.compressor is None or not await compress(state, ctx, sink, forced=True):
                raise
            response = await _call_model(provider, _request(state, schemas, config), state, sink)
        state.api_calls += 1
        state.usage += response.usage
        state.last_model = response.model
        message = response.message
        await state.add(message)
        if state.recorder is not None:
            await state.recorder.add_usage(response.usage)
        sink.emit(
            ModelResponded(
                iteration=iteration,
                usage=response.usage,
                finish_reason=response.finish_reason,
                tool_calls=len(message.tool_calls),
            )
        )
        if not message.tool_calls:
            text = (message.content or "").strip()
            if not text:
                why = f" (finish_reason={response.finish_reason})" if response.finish_reason else ""
                return "failed", f"the model returned an empty answer{why}"
            state.final = message.content
            return "completed", None

        results = await execute_calls(message.tool_calls, tools, ctx, sink)
        state.tool_calls += len(results)
        replies = [r.to_message() for r in results]
        remaining = config.max_iterations - state.api_calls
        if 0 < remaining <= _WARN_WITHIN:
            last = replies[-1]
            replies[-1] = replace(last, content=(last.content or "") + _budget_warning(remaining))
        await state.add(*replies)
    return "max_iterations", (
        f"stopped after {config.max_iterations} model calls without a final answer "
        "(raise agent.max_iterations or --max-iterations)"
    )


def _request(state: LoopState, schemas: list[Any], config: LoopConfig) -> ModelRequest:
    return ModelRequest(
        messages=tuple(state.messages),
        tools=schemas,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
    )


async def compress(state: LoopState, ctx: ToolContext, sink: EventSink, *, forced: bool) -> bool:
    """Compress the transcript in place (and split the stored session).

    Returns False when nothing was compressed but the turn can go on (not forced
    and the prompt still fits); raises a clear ProviderError when the prompt can
    neither be compressed nor fit — never a silent truncation.
    """
    compressor = state.compressor
    assert compressor is not None
    before = state.ledger.sync(state.messages)
    window = f"{compressor.window:,}" if compressor.window else "unknown"
    try:
        result = await compressor.compress(state.messages)
    except ProviderError as e:
        if not forced and compressor.fits(state.ledger):
            sink.emit(
                Notice(
                    level="warning",
                    message=f"context compression failed ({e}); continuing uncompressed",
                )
            )
            return False
        raise ProviderError(
            f"the conversation (≈{before:,} tokens) does not fit the model's context window "
            f"({window} tokens) and compressing it failed: {e}"
        ) from e
    if result is None:
        if not forced and compressor.fits(state.ledger):
            return False
        raise ProviderError(
            f"the conversation (≈{before:,} tokens) does not fit the model's context window "
            f"({window} tokens) and there is nothing left to compress "
            "(the system prompt, first message and recent messages alone are too large)"
        )
    state.messages = list(result.messages)
    after = state.ledger.sync(state.messages)
    if state.recorder is not None:
        await state.recorder.split(state.messages, reason="compression")
        await state.recorder.add_aux_usage("compression", result.usage)
        ctx.session_id = state.recorder.session_id
    sink.emit(
        Notice(
            level="info",
            message=f"compressed {result.removed} earlier messages into a summary "
            f"(≈{before:,} → {after:,} tokens, by {result.model})",
        )
    )
    return True


def _budget_warning(remaining: int) -> str:
    calls = "call" if remaining == 1 else "calls"
    return (
        f"\n\n[Talaria: {remaining} model {calls} left in this run's budget. "
        "Stop starting new work and give your final answer now.]"
    )


async def _call_model(
    provider: Provider, request: ModelRequest, state: LoopState, sink: EventSink
) -> ModelResponse:
    response: ModelResponse | None = None
    state.partial_text.clear()
    stream = provider.stream(request)
    async with contextlib.aclosing(stream):  # closes the HTTP stream on interrupt
        async for item in stream:
            if isinstance(item, TextDelta):
                state.partial_text.append(item.text)
                sink.emit(item)
            elif isinstance(item, ReasoningDelta | Notice):
                sink.emit(item)
            else:
                response = item
    state.partial_text.clear()
    if response is None:
        raise RuntimeError(f"provider {provider.name} ended its stream without a response")
    return response
