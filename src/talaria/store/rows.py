"""Translation between value types and rows, and redaction on the way in.

Redaction happens here, in the store, on every text field before it is bound to
a statement: the caller cannot forget it, and no unredacted byte can reach the
database file, its WAL or a freed page.  It runs on the calling thread, so the
writer thread (the bottleneck) does not pay for the regular expressions.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from talaria.store.base import NewSession, SessionRecord, StoredMessage
from talaria.types import Message, ToolCall

Redact = Callable[[str], str]

SESSION_COLUMNS = (
    "id, parent_id, root_id, depth, source, user_id, chat_id, title, model, provider,"
    " system_prompt, goal, status, end_reason, started_at, ended_at, updated_at,"
    " message_count, tool_call_count, api_calls, input_tokens, output_tokens, cost_usd,"
    " pid, host, metadata"
)
MESSAGE_COLUMNS = (
    "session_id, seq, role, content, tool_calls, tool_call_id, tool_name, finish_reason,"
    " reasoning, token_count, created_at"
)

MessageRow = tuple[
    str, str | None, str | None, str | None, str | None, str | None, str | None, int | None, float
]
"""role, content, tool_calls JSON, tool_call_id, tool_name, finish_reason, reasoning,
token_count, created_at: what an append binds after session_id and seq."""


def session_from_row(row: Sequence[Any]) -> SessionRecord:
    return SessionRecord(
        id=row[0],
        parent_id=row[1],
        root_id=row[2],
        depth=row[3],
        source=row[4],
        user_id=row[5],
        chat_id=row[6],
        title=row[7],
        model=row[8],
        provider=row[9],
        system_prompt=row[10],
        goal=row[11],
        status=row[12],
        end_reason=row[13],
        started_at=row[14],
        ended_at=row[15],
        updated_at=row[16],
        message_count=row[17],
        tool_call_count=row[18],
        api_calls=row[19],
        input_tokens=row[20],
        output_tokens=row[21],
        cost_usd=row[22],
        pid=row[23],
        host=row[24],
        metadata=_load_json_object(row[25]),
    )


def message_from_row(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        session_id=row[0],
        seq=row[1],
        role=row[2],
        content=row[3],
        tool_calls=_load_tool_calls(row[4]),
        tool_call_id=row[5],
        tool_name=row[6],
        finish_reason=row[7],
        reasoning=row[8],
        token_count=row[9],
        created_at=row[10],
    )


def _load_json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _load_tool_calls(text: str | None) -> tuple[ToolCall, ...]:
    if not text:
        return ()
    try:
        items = json.loads(text)
    except ValueError:
        return ()
    return tuple(
        ToolCall(
            id=str(i.get("id", "")),
            name=str(i.get("name", "")),
            arguments=str(i.get("arguments", "")),
        )
        for i in items
        if isinstance(i, dict)
    )


def redact_text(redact: Redact | None, text: str | None) -> str | None:
    if redact is None or not text:
        return text
    return redact(text)


def redact_value(redact: Redact | None, value: Any) -> Any:
    """Redact every string inside a JSON-like value (keys too).

    Redacting the structure rather than its serialised text matters: a secret
    containing a character that JSON escapes would not match the escaped text.
    """
    if redact is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_value(redact, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(redact, v) for v in value]
    return value


def message_row(message: Message, token_count: int | None, redact: Redact | None) -> MessageRow:
    """The bound values of one message; redacted, serialised, timestamped now."""
    calls: str | None = None
    if message.tool_calls:
        calls = json.dumps(
            [
                {
                    "id": c.id,
                    "name": c.name,
                    "arguments": redact_text(redact, c.arguments),
                }
                for c in message.tool_calls
            ],
            ensure_ascii=False,
        )
    return (
        message.role,
        redact_text(redact, message.content),
        calls,
        message.tool_call_id,
        message.name,
        message.finish_reason,
        redact_text(redact, message.reasoning),
        token_count,
        time.time(),
    )


def redacted_session(new: NewSession, redact: Redact | None) -> NewSession:
    """``new`` with its free-text fields redacted."""
    if redact is None:
        return new
    return dataclasses.replace(
        new,
        system_prompt=redact_text(redact, new.system_prompt),
        title=redact_text(redact, new.title),
        goal=redact_text(redact, new.goal),
        metadata=redact_value(redact, new.metadata),
    )


def metadata_json(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, ensure_ascii=False, default=str, separators=(",", ":"))
