"""The ``Provider`` protocol and the values that cross it.

A provider turns a :class:`ModelRequest` into a stream: zero or more text or
reasoning deltas (and notices such as "retrying after 429"), then exactly one
:class:`ModelResponse` carrying the assembled assistant message and its usage.
Everything above this line (the agent loop) is wire-format agnostic.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from talaria.events import Notice, ReasoningDelta, TextDelta
from talaria.types import Message, Usage


@dataclass(frozen=True, slots=True)
class ModelRequest:
    messages: Sequence[Message]
    tools: Sequence[Mapping[str, Any]] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    # Vendor parameters passed through verbatim into the request body.
    extra_body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelResponse:
    message: Message
    usage: Usage
    finish_reason: str | None
    model: str
    provider: str
    # Which endpoint actually answered (differs from the primary after a fallback).
    base_url: str = ""


StreamItem = TextDelta | ReasoningDelta | Notice | ModelResponse


@runtime_checkable
class Provider(Protocol):
    """Anything that can answer a chat request as a stream."""

    @property
    def name(self) -> str:
        """Provider label shown to users (``openrouter``, ``ollama``, ``scripted``…)."""
        ...

    @property
    def model(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncGenerator[StreamItem, None]:
        """Yield deltas, then one final :class:`ModelResponse`; raise ``ProviderError``."""
        ...

    async def aclose(self) -> None:
        """Release what this provider holds (pooled clients are only released, not closed)."""
        ...
