"""Compression planning, token ledger and titles — the pure parts."""

from __future__ import annotations

import pytest

from talaria.agent.compression import TokenLedger, message_tokens, plan
from talaria.agent.recorder import _title_parts
from talaria.agent.titles import MAX_TITLE, sanitize_title
from talaria.types import Message, ToolCall


def _conversation(n_turns: int) -> list[Message]:
    msgs = [Message.system("sys"), Message.user("the task")]
    for i in range(n_turns):
        call = ToolCall(f"c{i}", "terminal", '{"command": "ls"}')
        msgs.append(Message(role="assistant", tool_calls=(call,)))
        msgs.append(Message.tool(f"c{i}", "terminal", f"output {i}"))
    msgs.append(Message(role="assistant", content="done"))
    return msgs


@pytest.mark.parametrize("protect", [1, 2, 3, 4, 5, 12])
def test_plan_keeps_head_and_never_splits_tool_pairs(protect: int) -> None:
    msgs = _conversation(10)
    p = plan(msgs, protect)
    assert p is not None
    assert p.head == msgs[:2]  # system + first user message verbatim
    assert p.head + p.middle + p.tail == msgs
    assert len(p.tail) >= protect
    # every tool result in the tail has its call in the tail
    calls = {c.id for m in p.tail for c in m.tool_calls}
    assert all(m.tool_call_id in calls for m in p.tail if m.role == "tool")
    assert p.tail[0].role != "tool"


def test_plan_with_nothing_to_compress() -> None:
    assert plan(_conversation(0), 12) is None
    assert plan([Message.system("s"), Message.user("u")], 0) is None


def test_ledger_is_incremental_and_resets_on_replacement() -> None:
    msgs = _conversation(3)
    ledger = TokenLedger()
    total = ledger.sync(msgs)
    assert total == sum(message_tokens(m) for m in msgs)
    msgs.append(Message.user("x" * 400))
    assert ledger.sync(msgs) == total + message_tokens(msgs[-1])
    shorter = msgs[:3]
    assert ledger.sync(shorter) == sum(message_tokens(m) for m in shorter)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Fixing the CI pipeline."', "Fixing the CI pipeline"),
        ("Title: Debugging\u200b flaky\u200d tests\n", "Debugging flaky tests"),
        ("\x1b[31mRed\x07 alert\x00", "[31mRed alert"),
        ("  **Plan for Q3**  ", "Plan for Q3"),
        ("数据库迁移计划", "数据库迁移计划"),
        ("", None),
        ("\u200b\u200c", None),
    ],
)
def test_title_sanitising(raw: str, expected: str | None) -> None:
    assert sanitize_title(raw) == expected


def test_long_titles_are_cut_at_a_word() -> None:
    title = sanitize_title("word " * 40)
    assert title is not None and len(title) <= MAX_TITLE and title.endswith("…")
    assert "  " not in title


def test_continuation_titles() -> None:
    assert _title_parts("Research") == ("Research", 2)
    assert _title_parts("Research #2") == ("Research", 3)
    assert _title_parts("Issue #abc") == ("Issue #abc", 2)
    assert _title_parts(None) == (None, 2)
