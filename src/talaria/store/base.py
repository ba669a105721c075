"""The ``SessionStore`` protocol and the records that cross it.

Writes are *commands*: each one is enqueued to the store's single writer and
completes only after its transaction has committed, so a caller that got a
result knows the row is durable (to the configured ``synchronous`` level).
Every write has a blocking form (any thread) and an ``a``-prefixed awaitable
form (any loop).  Reads run on the calling thread's own read connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from talaria.errors import TalariaError
from talaria.types import Message, ToolCall, Usage

SessionStatus = Literal[
    "running", "completed", "interrupted", "failed", "max_iterations", "timed_out", "orphaned"
]
TERMINAL_SESSION_STATUSES: frozenset[str] = frozenset(
    {"completed", "interrupted", "failed", "max_iterations", "timed_out", "orphaned"}
)
SOURCES = ("cli", "run", "subagent", "telegram", "api", "gateway")


class StoreError(TalariaError):
    """The store could not do what was asked (bad id, schema too new, I/O failure)."""


class StoreBusy(StoreError):
    """Another process held the database lock for longer than the retry budget."""


class SessionNotFound(StoreError):
    pass


class AmbiguousSessionId(StoreError):
    pass


@dataclass(frozen=True, slots=True)
class NewSession:
    """What a caller knows when a session starts."""

    source: str
    model: str = ""
    provider: str = ""
    system_prompt: str | None = None
    title: str | None = None
    parent_id: str | None = None
    user_id: str | None = None
    chat_id: str | None = None
    goal: str | None = None
    id: str | None = None
    """Chosen by the store when None: 16 random hex characters, so short prefixes are unique."""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    parent_id: str | None
    root_id: str
    depth: int
    source: str
    user_id: str | None
    chat_id: str | None
    title: str | None
    model: str
    provider: str
    system_prompt: str | None
    goal: str | None
    status: SessionStatus
    end_reason: str | None
    started_at: float
    ended_at: float | None
    updated_at: float
    message_count: int
    tool_call_count: int
    api_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    pid: int | None
    host: str | None
    metadata: dict[str, Any]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "status": self.status,
            "end_reason": self.end_reason,
            "parent_id": self.parent_id,
            "root_id": self.root_id,
            "depth": self.depth,
            "model": self.model,
            "provider": self.provider,
            "goal": self.goal,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "updated_at": self.updated_at,
            "message_count": self.message_count,
            "tool_call_count": self.tool_call_count,
            "api_calls": self.api_calls,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cost_usd": self.cost_usd,
            },
        }


@dataclass(frozen=True, slots=True)
class StoredMessage:
    session_id: str
    seq: int
    """1-based, gap-free within a session."""
    role: str
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    tool_call_id: str | None
    tool_name: str | None
    finish_reason: str | None
    reasoning: str | None
    token_count: int | None
    created_at: float

    def to_message(self) -> Message:
        return Message(
            role=self.role,  # type: ignore[arg-type]
            content=self.content,
            tool_calls=self.tool_calls,
            tool_call_id=self.tool_call_id,
            name=self.tool_name,
            reasoning=self.reasoning,
            finish_reason=self.finish_reason,
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    session_id: str
    seq: int
    role: str
    snippet: str
    """Matched text with the hits wrapped in ``[`` … ``]``."""
    rank: float
    session_title: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class StoreStats:
    sessions: int
    messages: int
    by_status: dict[str, int]
    by_source: dict[str, int]
    db_bytes: int
    wal_bytes: int
    path: str


@dataclass(frozen=True, slots=True)
class AuxUsage:
    """Side-task usage of one session for one task (``title``, ``compression``…)."""

    task: str
    calls: int
    usage: Usage

    def to_json_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, **self.usage.to_dict()}


@dataclass(frozen=True, slots=True)
class SessionEnd:
    """The terminal update of a session: written once, on every exit path.

    ``usage`` and ``api_calls`` are *added* to the session's running totals (like
    ``add_usage``), so a caller that reported usage incrementally passes only what
    it has not reported yet (often nothing).
    """

    status: SessionStatus
    end_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    api_calls: int = 0


class SessionStore(Protocol):
    """Implemented by the SQLite store (and later a Postgres one)."""

    # -- writes: blocking forms ------------------------------------------------
    def create_session(self, new: NewSession) -> SessionRecord: ...
    def append_message(
        self, session_id: str, message: Message, *, token_count: int | None = None
    ) -> int:
        """Append one message; returns its sequence number."""
        ...

    def end_session(self, session_id: str, end: SessionEnd) -> None: ...
    def add_usage(self, session_id: str, usage: Usage, *, api_calls: int = 0) -> None:
        """Add to a session's running totals (usage rolls up as it happens)."""
        ...

    def reopen_session(self, session_id: str) -> SessionRecord:
        """Mark an ended session ``running`` again (resume): clears ended_at/end_reason,
        records this process's pid/host; totals and messages are kept."""
        ...

    def rename(self, session_id: str, title: str | None) -> None: ...
    def delete(self, session_id: str) -> int:
        """Delete a session and its descendants; returns how many sessions went."""
        ...

    def prune(self, older_than_days: float) -> int: ...

    # -- writes: awaitable forms -------------------------------------------------
    async def acreate_session(self, new: NewSession) -> SessionRecord: ...
    async def aappend_message(
        self, session_id: str, message: Message, *, token_count: int | None = None
    ) -> int: ...
    async def aend_session(self, session_id: str, end: SessionEnd) -> None: ...
    async def aadd_usage(self, session_id: str, usage: Usage, *, api_calls: int = 0) -> None: ...
    async def areopen_session(self, session_id: str) -> SessionRecord: ...
    def add_aux_usage(self, session_id: str, task: str, usage: Usage) -> None:
        """Account one side-task call (kept apart from the main model's totals)."""
        ...

    async def aadd_aux_usage(self, session_id: str, task: str, usage: Usage) -> None: ...
    def aux_usage(self, session_id: str) -> dict[str, AuxUsage]: ...

    # -- reads ---------------------------------------------------------------------
    def get_session(self, session_id: str) -> SessionRecord: ...
    def resolve(self, id_or_prefix_or_title: str) -> SessionRecord:
        """Full id, unique id prefix, or exact title; raises SessionNotFound/Ambiguous."""
        ...

    def latest(self, *, source: str | None = None) -> SessionRecord | None: ...
    def list_sessions(
        self,
        *,
        source: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        limit: int = 50,
    ) -> list[SessionRecord]: ...
    def messages(self, session_id: str) -> list[StoredMessage]: ...
    def previews(self, session_ids: Sequence[str], length: int = 80) -> dict[str, str]:
        """Start of each session's first user message, for lists of untitled sessions."""
        ...

    def lineage(self, session_id: str) -> list[SessionRecord]:
        """Ancestors from the root down to (and including) this session."""
        ...

    def children(self, session_id: str) -> list[SessionRecord]: ...
    def search(
        self, query: str, *, limit: int = 20, exclude_session: str | None = None
    ) -> Sequence[SearchHit]: ...
    def stats(self) -> StoreStats: ...

    def close(self) -> None:
        """Flush everything queued, then close.  Idempotent."""
        ...
