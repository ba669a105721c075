"""``ScriptedProvider``: an in-process model for unit tests.

Speaks the :class:`~talaria.providers.base.Provider` protocol directly (no
HTTP), driven by the same :class:`Reply` vocabulary as the loopback server, so a
test can move between the two without rewriting its script.  Error replies are
classified by the real wire-layer classifier, so retry and fallback logic sees
exactly the exceptions a real server would cause.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import threading
import time
from collections.abc import AsyncGenerator, Sequence

from talaria.events import ReasoningDelta, TextDelta
from talaria.providers import wire
from talaria.providers.base import ModelRequest, ModelResponse, StreamItem
from talaria.testing.replies import (
    Handler,
    RecordedRequest,
    Reply,
    ScriptQueue,
    echo,
    resolve_usage,
)
from talaria.types import Message, ToolCall, Usage


class ScriptedProvider:
    """A provider whose answers come from a script of :class:`Reply` values."""

    def __init__(
        self,
        script: Handler | Sequence[Reply] | None = None,
        *,
        name: str = "scripted",
        model: str = "scripted-model",
    ) -> None:
        if script is None:
            self._handler: Handler = echo
        elif isinstance(script, Sequence):
            self._handler = ScriptQueue(script)
        else:
            self._handler = script
        self._name = name
        self._model = model
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._counter = itertools.count()
        self._call_ids = itertools.count(1)
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return self._model

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    async def aclose(self) -> None:
        pass

    def _record(self, request: ModelRequest) -> RecordedRequest:
        body = wire.build_body(request, model=self._model, stream=True)
        rec = RecordedRequest(
            index=next(self._counter),
            path="/v1/chat/completions",
            method="POST",
            headers={},
            body=body,
            model=self._model,
            stream=True,
            messages=body["messages"],
            tools=list(body.get("tools", [])),
            started_at=time.monotonic(),
        )
        with self._lock:
            self._requests.append(rec)
        return rec

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamItem, None]:
        rec = self._record(request)
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self._handler(rec)
            if inspect.isawaitable(reply):
                reply = await reply
            assert isinstance(reply, Reply)
            async for item in self._play(reply, rec):
                yield item
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _play(self, reply: Reply, rec: RecordedRequest) -> AsyncGenerator[StreamItem, None]:
        if reply.latency:
            await asyncio.sleep(reply.latency)
        if reply.hang:
            await asyncio.Event().wait()
        if reply.status != 200:
            raise wire.error_from_payload(
                {"error": reply.error or {"message": f"HTTP {reply.status}"}},
                status=reply.status,
                headers=reply.headers,
                provider=self._name,
                model=self._model,
            )
        if reply.reasoning:
            yield ReasoningDelta(text=reply.reasoning)
        for piece in reply.text_deltas():
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            yield TextDelta(text=piece)
        if reply.stream_error:
            raise wire.error_from_payload(
                {"error": reply.stream_error},
                status=None,
                headers={},
                provider=self._name,
                model=self._model,
            )
        calls = tuple(
            ToolCall(
                id=spec.id or f"call_{next(self._call_ids)}",
                name=spec.name,
                arguments=spec.arguments_json(),
            )
            for spec in reply.tool_calls
        )
        prompt, completion = resolve_usage(reply, rec.messages)
        yield ModelResponse(
            message=Message(
                role="assistant",
                content=reply.text or None,
                tool_calls=calls,
                reasoning=reply.reasoning,
                finish_reason=reply.effective_finish_reason,
            ),
            usage=Usage(input_tokens=prompt, output_tokens=completion, cost_usd=reply.cost),
            finish_reason=reply.effective_finish_reason,
            model=self._model,
            provider=self._name,
        )
