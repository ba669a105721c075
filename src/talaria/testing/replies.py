"""The script vocabulary of Talaria's test doubles: what a fake model says next.

A test describes the model's side of a conversation as a list of :class:`Reply`
values (text, tool calls, reasoning, failures, timing).  The same vocabulary
drives both doubles: the loopback HTTP server (:mod:`talaria.testing.fake_server`),
which turns a reply into OpenAI wire bytes, and the in-process scripted
provider, which turns it into stream items directly.  That is why nothing here
knows about HTTP, sockets or event loops: a reply is data, and how it is
delivered is the double's business.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

__all__ = [
    "Handler",
    "RecordedRequest",
    "Reply",
    "ScriptQueue",
    "ToolCallSpec",
    "echo",
    "estimate_tokens",
    "resolve_usage",
]

_encode = msgspec.json.Encoder().encode

# Default OpenAI ``error.type`` per status, so ``Reply.fail(429, "...")`` already
# looks like what a real vendor sends and error classifiers can be exercised.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def default_error_type(status: int) -> str:
    """The ``error.type`` a real server would most likely send with ``status``."""
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


@dataclass(slots=True)
class ToolCallSpec:
    """One tool call the fake model makes.

    ``arguments`` may be a raw string so tests can send malformed JSON on
    purpose (the agent must turn that into an error result, not a crash).
    ``id`` is filled in by the double (``call_<n>``) when left ``None``.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The ``function.arguments`` string as it goes on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return _encode(self.arguments).decode()

    def argument_fragments(self, pieces: int = 4) -> list[str]:
        """Split the arguments string into up to ``pieces`` consecutive fragments.

        Real servers stream arguments a few characters at a time; clients that
        parse fragments eagerly instead of concatenating first break on this.
        """
        return split_evenly(self.arguments_json(), pieces)


@dataclass(slots=True)
class Reply:
    """One scripted model response, including how (and whether) it is delivered.

    Content: ``text``, ``tool_calls``, ``reasoning`` (sent both as ``reasoning``
    and ``reasoning_content`` like OpenRouter/DeepSeek), ``finish_reason``,
    ``usage`` (prompt, completion tokens; estimated when ``None``), ``cost``.
    Delivery: ``latency`` before the first byte, ``chunk_delay`` between stream
    chunks, ``chunks`` (number of text deltas).  Failure modes: ``status`` +
    ``error`` + ``headers`` for HTTP errors, ``stream_error`` for an in-stream
    error event after the text, ``hang`` for a server that never answers,
    ``ignore_stream`` for a server that answers a stream request with JSON.
    """

    text: str = ""
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    reasoning: str | None = None
    finish_reason: str | None = None
    usage: tuple[int, int] | None = None
    cost: float | None = None
    latency: float = 0.0
    chunk_delay: float = 0.0
    chunks: int | None = None
    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream_error: dict[str, Any] | None = None
    hang: bool = False
    ignore_stream: bool = False

    @classmethod
    def say(cls, text: str, **kw: Any) -> Reply:
        """A plain text answer."""
        return cls(text=text, **kw)

    @classmethod
    def call(
        cls, name: str, arguments: dict[str, Any] | str, id: str | None = None, **kw: Any
    ) -> Reply:
        """A single tool call (``arguments`` as a dict, or a raw, possibly invalid, string)."""
        return cls(tool_calls=[ToolCallSpec(name, arguments, id)], **kw)

    @classmethod
    def calls(
        cls,
        calls: Iterable[ToolCallSpec | tuple[str, dict[str, Any] | str]],
        **kw: Any,
    ) -> Reply:
        """Several tool calls in one turn (the agent should run them concurrently)."""
        specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
        return cls(tool_calls=specs, **kw)

    @classmethod
    def fail(
        cls,
        status: int,
        message: str,
        *,
        type: str | None = None,
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """An HTTP error with an OpenAI-shaped ``{"error": {...}}`` body."""
        error = {"message": message, "type": type or default_error_type(status), "code": code}
        return cls(status=status, error=error, headers=dict(headers or {}))

    @property
    def effective_finish_reason(self) -> str:
        """``finish_reason`` or the one a real model would report for this content."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def text_deltas(self) -> list[str]:
        """The text cut into stream deltas: ``chunks`` even pieces, or word-ish groups."""
        if not self.text:
            return []
        if self.chunks is not None:
            return split_evenly(self.text, self.chunks)
        return split_words(self.text)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the double saw it, for assertions after (or during) a run.

    ``finished_at`` is ``None`` while the request is in flight; ``cancelled`` is
    true when the client went away before the response completed, which is how
    tests prove that an interrupt really closed the HTTP stream.
    """

    index: int
    path: str
    method: str
    headers: dict[str, str]
    body: dict[str, Any]
    model: str
    stream: bool
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    started_at: float
    finished_at: float | None = None
    cancelled: bool = False

    @property
    def last_user_text(self) -> str:
        """Text of the last ``user`` message (content parts joined), or ``""``."""
        for message in reversed(self.messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return content_text(message.get("content"))
        return ""

    @property
    def tool_names(self) -> list[str]:
        """Names of the function tools offered in this request."""
        names: list[str] = []
        for tool in self.tools:
            fn = tool.get("function") if isinstance(tool, Mapping) else None
            if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                names.append(fn["name"])
        return names


Handler = Callable[[RecordedRequest], Reply | Awaitable[Reply]]
"""Decides the reply to a request; may be sync or async.  Sync handlers run on the
double's event loop, so they must not block."""


class ScriptQueue:
    """A handler that hands out scripted replies in arrival order.

    Thread-safe, because tests may extend the script from their own thread while
    the server's loop consumes it.  Running out is a test bug, so it answers 500
    with a message that says so instead of hanging or repeating itself.
    """

    def __init__(self, replies: Iterable[Reply] = ()) -> None:
        self._lock = threading.Lock()
        self._replies = list(replies)
        self._served = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._served < len(self._replies):
                reply = self._replies[self._served]
                self._served += 1
                return reply
            scripted = len(self._replies)
        return Reply.fail(
            500,
            f"ScriptQueue exhausted: {scripted} replies were scripted and all were used; "
            f"request #{request.index} ({request.method} {request.path}) has no reply",
            type="script_exhausted",
        )

    def extend(self, replies: Iterable[Reply]) -> None:
        """Append more replies to the script."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._replies) - self._served

    @property
    def served(self) -> int:
        with self._lock:
            return self._served


def echo(request: RecordedRequest) -> Reply:
    """The default handler: repeats the last user message, handy for smoke tests."""
    return Reply.say(f"echo: {request.last_user_text}")


def content_text(content: Any) -> str:
    """Plain text of a message ``content`` (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = (p.get("text") for p in content if isinstance(p, Mapping))
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def estimate_tokens(chars: int) -> int:
    """Rough token count for ``chars`` characters (≈ 4 per token, like tiktoken on English)."""
    return (chars + 3) // 4


def resolve_usage(reply: Reply, messages: Sequence[Any]) -> tuple[int, int]:
    """(prompt, completion) tokens: the scripted ``usage`` or an estimate from the text."""
    if reply.usage is not None:
        return reply.usage
    prompt_chars = 0
    for message in messages:
        if isinstance(message, Mapping):
            prompt_chars += len(content_text(message.get("content"))) + 4
    completion_chars = len(reply.text) + len(reply.reasoning or "")
    completion_chars += sum(len(c.name) + len(c.arguments_json()) for c in reply.tool_calls)
    return max(1, estimate_tokens(prompt_chars)), max(1, estimate_tokens(completion_chars))


def split_evenly(text: str, pieces: int) -> list[str]:
    """``text`` as at most ``pieces`` non-empty consecutive slices of near-equal size."""
    if not text:
        return []
    n = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), n)
    out: list[str] = []
    start = 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


def split_words(text: str, group: int = 2) -> list[str]:
    """``text`` cut after every ``group`` words, keeping whitespace with the words.

    Roughly the granularity real models stream at, without a delta per
    character (which would make long scripted answers needlessly slow).
    """
    out: list[str] = []
    start = 0
    words = 0
    in_space = text[:1].isspace()
    for i, ch in enumerate(text):
        space = ch.isspace()
        if in_space and not space:
            words += 1
            if words == group:
                out.append(text[start:i])
                start = i
                words = 0
        in_space = space
    if start < len(text):
        out.append(text[start:])
    return [piece for piece in out if piece]
