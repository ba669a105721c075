"""Context compression: summarise the middle of a long conversation.

When the prompt would exceed ``compression.threshold`` of the model's window, the
``compression`` side task summarises everything between the first user message
and the last ``protect_last_n`` messages.  The system prompt, the first user
message and the recent tail stay verbatim; a tool call and its results are never
separated (the tail boundary moves back to the assistant message that made the
calls); the summary goes in as one clearly marked message.

Token estimates are cached per message (:class:`TokenLedger`), so checking the
threshold costs O(1) per turn however long the conversation is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talaria.config_schema import CompressionConfig
from talaria.providers.models import context_window, estimate_tokens
from talaria.types import Message, Usage

if TYPE_CHECKING:
    from talaria.config import Settings
    from talaria.runtime import Runtime

SUMMARY_MARK = "[Talaria: summary of {n} earlier messages, compressed to save context]"
_PER_MESSAGE = 4  # role and framing overhead of one message, in tokens
_TOOL_RESULT_CHARS = 4_000  # how much of each tool result the summariser sees

SUMMARISER_PROMPT = """\
You compress the middle of a conversation between a user and an AI agent that uses tools,
so the agent can continue the work with less context. Write a faithful summary that keeps:
- the user's requests, constraints and preferences;
- decisions made and their reasons;
- facts, values, names, paths and identifiers discovered (exactly as written);
- what was done: commands run, files created or changed, results and errors;
- what is still open or planned.
Be concise but do not drop anything the agent would need. Write plain prose and lists;
do not invent anything, and do not address the user."""


def message_tokens(m: Message) -> int:
    text = m.content or ""
    for call in m.tool_calls:
        text += call.name + call.arguments
    return estimate_tokens(text) + _PER_MESSAGE


@dataclass
class TokenLedger:
    """Cached token estimates of a transcript that only grows (or is replaced whole)."""

    counts: list[int] = field(default_factory=list)
    total: int = 0

    def sync(self, messages: Sequence[Message]) -> int:
        """Count messages added since the last call; O(new messages)."""
        if len(messages) < len(self.counts):
            self.reset(messages)
            return self.total
        for m in messages[len(self.counts) :]:
            n = message_tokens(m)
            self.counts.append(n)
            self.total += n
        return self.total

    def reset(self, messages: Sequence[Message]) -> None:
        self.counts = [message_tokens(m) for m in messages]
        self.total = sum(self.counts)


@dataclass(frozen=True, slots=True)
class Plan:
    head: list[Message]
    middle: list[Message]
    tail: list[Message]


def plan(messages: Sequence[Message], protect_last_n: int) -> Plan | None:
    """Split into (kept head, summarised middle, kept tail); None if nothing to compress."""
    head_end = 0
    while head_end < len(messages) and messages[head_end].role == "system":
        head_end += 1
    if head_end < len(messages) and messages[head_end].role == "user":
        head_end += 1  # the first user message stays verbatim: it states the task
    tail_start = max(head_end, len(messages) - max(protect_last_n, 0))
    # Never start the tail with tool results whose call would be summarised away.
    while tail_start > head_end and messages[tail_start].role == "tool":
        tail_start -= 1
    middle = list(messages[head_end:tail_start])
    if len(middle) < 2:
        return None
    return Plan(list(messages[:head_end]), middle, list(messages[tail_start:]))


def render_for_summary(messages: Sequence[Message]) -> str:
    lines: list[str] = []
    for m in messages:
        if m.role == "tool":
            body = (m.content or "")[:_TOOL_RESULT_CHARS]
            lines.append(f"[tool result {m.name or ''}]\n{body}")
        elif m.role == "assistant":
            if m.content:
                lines.append(f"[assistant]\n{m.content}")
            for c in m.tool_calls:
                lines.append(f"[assistant calls {c.name}] {c.arguments[:1000]}")
        else:
            lines.append(f"[{m.role}]\n{m.content or ''}")
    return "\n\n".join(lines)


@dataclass(frozen=True, slots=True)
class Compressed:
    messages: list[Message]
    removed: int
    usage: Usage
    model: str


Summarise = Callable[[list[Message]], Awaitable[tuple[str, Usage, str]]]
"""Calls the ``compression`` side task: (prompt messages) → (summary, usage, model)."""


class Compressor:
    def __init__(
        self,
        summarise: Summarise,
        *,
        window: int | None,
        config: CompressionConfig,
        fixed_tokens: int = 0,
    ) -> None:
        """``fixed_tokens``: what every request carries besides messages (tool schemas)."""
        self._summarise = summarise
        self.window = window
        self.config = config
        self.fixed_tokens = fixed_tokens

    def limit(self) -> int | None:
        if not self.window or not self.config.enabled:
            return None
        return int(self.window * self.config.threshold)

    def needed(self, ledger: TokenLedger) -> bool:
        limit = self.limit()
        return limit is not None and ledger.total + self.fixed_tokens > limit

    def fits(self, ledger: TokenLedger) -> bool:
        """Whether the prompt still fits the window at all (compressed or not)."""
        return not self.window or ledger.total + self.fixed_tokens < self.window

    async def compress(self, messages: Sequence[Message]) -> Compressed | None:
        """Summarise the middle; None when there is nothing that can be compressed."""
        p = plan(messages, self.config.protect_last_n)
        if p is None:
            return None
        prompt = [
            Message.system(SUMMARISER_PROMPT),
            Message.user(render_for_summary(p.middle)),
        ]
        text, usage, model = await self._summarise(prompt)
        summary = Message.user(SUMMARY_MARK.format(n=len(p.middle)) + "\n\n" + text.strip())
        return Compressed([*p.head, summary, *p.tail], len(p.middle), usage, model)


def make_compressor(
    runtime: Runtime, settings: Settings, *, model: str, schemas: Sequence[Any]
) -> Compressor:
    """The compressor a run uses: the ``compression`` side task on the shared router."""
    cfg = settings.config

    async def summarise(prompt: list[Message]) -> tuple[str, Usage, str]:
        result = await runtime.aux(settings).call("compression", prompt)
        return result.text, result.usage, result.endpoint.model

    return Compressor(
        summarise,
        window=context_window(model, cfg.model.context_length),
        config=cfg.compression,
        fixed_tokens=estimate_tokens(str(list(schemas))),
    )
