"""Turning a :class:`~talaria.testing.replies.Reply` into OpenAI chat-completions JSON.

Pure functions, no I/O, so the exact shapes are easy to read next to the
OpenAI reference and the fake server stays about sockets.  Shapes follow what
api.openai.com sends today (``chat.completion`` / ``chat.completion.chunk``),
plus the dialect fields clients must also cope with: ``reasoning`` and
``reasoning_content`` deltas (OpenRouter, DeepSeek), ``usage.cost``
(OpenRouter) and OpenRouter's in-stream ``error`` event.

Encoding goes through msgspec because benchmarks push hundreds of concurrent
streams through the fake server and stdlib ``json`` would dominate its CPU time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from talaria.testing.replies import Reply, ToolCallSpec, default_error_type, split_evenly

__all__ = [
    "DONE",
    "ResolvedCall",
    "StreamMeta",
    "completion",
    "encode",
    "error_payload",
    "models_list",
    "resolve_calls",
    "sse",
    "stream_events",
    "usage_payload",
]

encode = msgspec.json.Encoder().encode
DONE = b"data: [DONE]\n\n"
ARGUMENT_FRAGMENTS = 4  # pieces each tool call's arguments are streamed in


@dataclass(frozen=True, slots=True)
class ResolvedCall:
    """A tool call with its id settled, ready for the wire."""

    id: str
    name: str
    arguments: str
    fragments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StreamMeta:
    """Fields shared by every object of one response."""

    id: str
    model: str
    created: int


def resolve_calls(specs: Sequence[ToolCallSpec], ids: Iterator[int]) -> list[ResolvedCall]:
    """Settle ids (``call_<n>`` from ``ids`` where unscripted) and argument fragments."""
    calls = []
    for spec in specs:
        arguments = spec.arguments_json()
        call_id = spec.id or f"call_{next(ids)}"
        fragments = tuple(split_evenly(arguments, ARGUMENT_FRAGMENTS))
        calls.append(ResolvedCall(call_id, spec.name, arguments, fragments))
    return calls


def sse(obj: Any) -> bytes:
    """One server-sent event carrying ``obj`` as JSON."""
    return b"data: " + encode(obj) + b"\n\n"


def usage_payload(tokens: tuple[int, int], cost: float | None) -> dict[str, Any]:
    prompt, completion_tokens = tokens
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
    if cost is not None:
        usage["cost"] = cost
    return usage


def error_payload(status: int, error: dict[str, Any] | None) -> dict[str, Any]:
    """The ``{"error": {...}}`` body for an error reply (a default one if unscripted)."""
    if error is None:
        error = {
            "message": f"fake server scripted HTTP {status}",
            "type": default_error_type(status),
            "code": None,
        }
    return {"error": error}


def _message(reply: Reply, calls: Sequence[ResolvedCall]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        # OpenAI sends ``null`` content alongside tool calls and ``""`` never.
        "content": reply.text if reply.text or not calls else None,
        "refusal": None,
    }
    if reply.reasoning is not None:
        message["reasoning"] = reply.reasoning
        message["reasoning_content"] = reply.reasoning
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return message


def completion(
    reply: Reply, meta: StreamMeta, calls: Sequence[ResolvedCall], tokens: tuple[int, int]
) -> dict[str, Any]:
    """A full non-streamed ``chat.completion`` object."""
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": _message(reply, calls),
                "logprobs": None,
                "finish_reason": reply.effective_finish_reason,
            }
        ],
        "usage": usage_payload(tokens, reply.cost),
    }


def stream_events(
    reply: Reply,
    meta: StreamMeta,
    calls: Sequence[ResolvedCall],
    tokens: tuple[int, int],
    *,
    include_usage: bool,
) -> list[bytes]:
    """Every SSE event of a streamed response, ``data: [DONE]`` included.

    Order matches OpenAI: a role chunk, reasoning deltas, content deltas, tool
    call deltas (header with id/name first, then argument fragments carrying
    only ``index``), a finish chunk, the usage chunk when asked for, ``[DONE]``.
    A scripted ``stream_error`` replaces everything after the text, as on
    OpenRouter when the upstream provider fails mid-answer.
    """
    head = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": None,
    }
    if include_usage:
        head["usage"] = None  # OpenAI sends an explicit null until the last chunk

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**head, "choices": [choice]})

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if reply.reasoning:
        for piece in Reply(text=reply.reasoning, chunks=reply.chunks).text_deltas():
            events.append(chunk({"reasoning": piece, "reasoning_content": piece}))
    events.extend(chunk({"content": piece}) for piece in reply.text_deltas())
    if reply.stream_error is not None:
        error_choice = {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
        events.append(sse({**head, "error": reply.stream_error, "choices": [error_choice]}))
        return events
    for index, call in enumerate(calls):
        header = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [header]}))
        for fragment in call.fragments:
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
            )
    events.append(chunk({}, reply.effective_finish_reason))
    if include_usage:
        events.append(sse({**head, "choices": [], "usage": usage_payload(tokens, reply.cost)}))
    events.append(DONE)
    return events


def models_list(models: Sequence[str], created: int) -> dict[str, Any]:
    """The ``GET /v1/models`` body."""
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": created, "owned_by": "talaria-fake"}
            for m in models
        ],
    }
