"""Frozen value types shared by every layer.

These types know nothing about storage, wire formats or rendering: the provider
layer translates them to and from the chat-completions wire format, the store
(later) to rows, renderers to text.  Keeping them dumb and immutable is what lets
many concurrent runs pass them around without locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]

RunStatus = Literal["completed", "interrupted", "failed", "max_iterations", "timed_out"]
"""Every run ends with exactly one of these."""

TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "interrupted", "failed", "max_iterations", "timed_out"}
)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call requested by the model.

    ``arguments`` is the raw JSON text the model produced: it is validated when the
    tool runs, so that malformed arguments become an error result the model can
    read instead of an exception in the loop.
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message in provider-neutral form."""

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning: str | None = None
    # Vendor data that must be echoed back on the next request (OpenRouter's
    # ``reasoning_details`` for models that sign their reasoning).
    reasoning_details: Any = None
    finish_reason: str | None = None

    @staticmethod
    def system(text: str) -> Message:
        return Message(role="system", content=text)

    @staticmethod
    def user(text: str) -> Message:
        return Message(role="user", content=text)

    @staticmethod
    def tool(call_id: str, name: str, content: str) -> Message:
        return Message(role="tool", content=content, tool_call_id=call_id, name=name)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token and cost accounting; ``cost_usd`` is None when nobody knows the price."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        if self.cost_usd is None and other.cost_usd is None:
            cost = None
        else:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=cost,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8),
        }


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one tool call; errors are results too, never exceptions."""

    call_id: str
    name: str
    content: str
    is_error: bool = False
    duration_s: float = 0.0

    def to_message(self) -> Message:
        return Message.tool(self.call_id, self.name, self.content)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a finished run reports, on every exit path."""

    status: RunStatus
    final: str | None
    messages: tuple[Message, ...]
    usage: Usage
    model: str
    provider: str
    error: str | None = None
    session_id: str | None = None
    api_calls: int = 0
    tool_calls: int = 0
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_json_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of ``talaria run``."""
        out: dict[str, Any] = {
            "final": self.final,
            "status": self.status,
            "usage": self.usage.to_dict(),
            "session_id": self.session_id,
            "error": self.error,
            "model": self.model,
            "provider": self.provider,
            "api_calls": self.api_calls,
            "tool_calls": self.tool_calls,
            "duration_s": round(self.duration_s, 3),
        }
        out.update(self.extra)
        return out
