"""The SessionStore contract on SQLite: sessions, messages, lineage, lifecycle."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from helpers.store import assert_gap_free, integrity, raw
from talaria.secrets import Redactor
from talaria.store.base import (
    AmbiguousSessionId,
    NewSession,
    SessionEnd,
    SessionNotFound,
    StoreError,
)
from talaria.store.sqlite import SqliteStore
from talaria.types import Message, ToolCall, Usage


def test_create_append_read_back(store: SqliteStore) -> None:
    s = store.create_session(
        NewSession(source="cli", model="m1", provider="p", system_prompt="be brief", title="t1",
                   user_id="u", chat_id="c", goal="g", metadata={"cwd": "/x", "n": 1})
    )  # fmt: skip
    assert len(s.id) == 16 and int(s.id, 16) >= 0
    assert (s.root_id, s.depth, s.status, s.parent_id) == (s.id, 0, "running", None)
    assert s.metadata == {"cwd": "/x", "n": 1}
    call = ToolCall("call_1", "terminal", '{"command": "ls"}')
    assert store.append_message(s.id, Message.user("hi")) == 1
    assert store.append_message(s.id, Message(role="assistant", tool_calls=(call,))) == 2
    assert store.append_message(s.id, Message.tool("call_1", "terminal", "a b"), token_count=3) == 3
    assert store.append_message(
        s.id, Message(role="assistant", content="done", reasoning="r", finish_reason="stop")
    ) == 4  # fmt: skip
    msgs = store.messages(s.id)
    assert [m.to_message() for m in msgs] == [
        Message.user("hi"),
        Message(role="assistant", tool_calls=(call,)),
        Message.tool("call_1", "terminal", "a b"),
        Message(role="assistant", content="done", reasoning="r", finish_reason="stop"),
    ]
    assert msgs[2].token_count == 3
    got = store.get_session(s.id)
    assert (got.message_count, got.tool_call_count) == (4, 1)
    assert got.updated_at >= msgs[-1].created_at


def test_lineage_children_and_depth(store: SqliteStore) -> None:
    root = store.create_session(NewSession(source="cli"))
    child = store.create_session(NewSession(source="subagent", parent_id=root.id))
    grandchild = store.create_session(NewSession(source="subagent", parent_id=child.id))
    assert (child.root_id, child.depth) == (root.id, 1)
    assert (grandchild.root_id, grandchild.depth) == (root.id, 2)
    assert [r.id for r in store.lineage(grandchild.id)] == [root.id, child.id, grandchild.id]
    assert [r.id for r in store.children(root.id)] == [child.id]
    assert [r.id for r in store.list_sessions(parent_id=child.id)] == [grandchild.id]
    with pytest.raises(SessionNotFound):
        store.create_session(NewSession(source="subagent", parent_id="feedfacefeedface"))
    with pytest.raises(SessionNotFound):
        store.lineage("feedfacefeedface")


def test_end_session_first_terminal_update_wins(store: SqliteStore) -> None:
    s = store.create_session(NewSession(source="run"))
    store.add_usage(s.id, Usage(input_tokens=10, output_tokens=2, cost_usd=0.5), api_calls=1)
    store.add_usage(s.id, Usage(input_tokens=5, output_tokens=1), api_calls=1)
    store.end_session(s.id, SessionEnd("interrupted", "user pressed ctrl-c", Usage(1, 1), 1))
    store.end_session(s.id, SessionEnd("failed", "cleanup", Usage(100, 100, cost_usd=9.0), 5))
    got = store.get_session(s.id)
    assert (got.status, got.end_reason) == ("interrupted", "user pressed ctrl-c")
    assert (got.input_tokens, got.output_tokens, got.api_calls) == (16, 4, 3)
    assert got.cost_usd == pytest.approx(0.5)
    assert got.ended_at is not None and got.ended_at >= got.started_at
    with pytest.raises(StoreError, match="not a terminal"):
        store.end_session(s.id, SessionEnd("running"))
    with pytest.raises(SessionNotFound):
        store.end_session("feedfacefeedface", SessionEnd("completed"))
    with pytest.raises(SessionNotFound):
        store.add_usage("feedfacefeedface", Usage(1, 1))


def test_reopen_makes_a_session_running_again_and_numbering_continues(store: SqliteStore) -> None:
    s = store.create_session(NewSession(source="cli"))
    store.append_message(s.id, Message.user("one"))
    store.end_session(s.id, SessionEnd("completed", usage=Usage(3, 4)))
    again = store.reopen_session(s.id)
    assert (again.status, again.ended_at, again.end_reason) == ("running", None, None)
    assert (again.input_tokens, again.message_count) == (3, 1)
    assert store.append_message(s.id, Message.user("two")) == 2
    store.end_session(s.id, SessionEnd("completed"))
    assert store.get_session(s.id).status == "completed"


def test_resolve_by_id_prefix_and_title(store: SqliteStore) -> None:
    a = store.create_session(NewSession(source="cli", id="abcd000000000001", title="alpha"))
    store.create_session(NewSession(source="cli", id="abcd000000000002"))
    store.create_session(NewSession(source="cli", id="ffff000000000003"))
    assert store.resolve(a.id).id == a.id
    assert store.resolve("alpha").id == a.id
    assert store.resolve("ffff").id == "ffff000000000003"
    assert store.resolve("ABCD000000000001").id == a.id  # ids match case-insensitively
    with pytest.raises(AmbiguousSessionId) as info:
        store.resolve("abcd")
    assert "abcd000000000001" in str(info.value) and "abcd000000000002" in str(info.value)
    with pytest.raises(SessionNotFound, match="4\\+ characters"):
        store.resolve("ff")
    with pytest.raises(SessionNotFound):
        store.resolve("nope-nothing")


def test_titles_are_unique_and_the_error_names_the_owner(store: SqliteStore) -> None:
    a = store.create_session(NewSession(source="cli", title="report"))
    b = store.create_session(NewSession(source="cli"))
    with pytest.raises(StoreError, match=f"already used by session {a.id}"):
        store.rename(b.id, "report")
    with pytest.raises(StoreError, match=f"already used by session {a.id}"):
        store.create_session(NewSession(source="cli", title="report"))
    store.rename(b.id, "report 2")
    store.rename(a.id, None)  # clearing frees the title
    store.rename(b.id, "report")
    assert store.get_session(b.id).title == "report"
    assert store.get_session(a.id).title is None
    with pytest.raises(SessionNotFound):
        store.rename("feedfacefeedface", "x")


def test_append_to_unknown_session_fails(store: SqliteStore) -> None:
    with pytest.raises(SessionNotFound):
        store.append_message("feedfacefeedface", Message.user("x"))


def test_list_latest_and_filters(store: SqliteStore) -> None:
    ids = []
    for i, source in enumerate(["cli", "run", "cli", "telegram"]):
        ids.append(store.create_session(NewSession(source=source, title=f"s{i}")).id)
    store.end_session(ids[0], SessionEnd("completed"))
    assert [s.id for s in store.list_sessions()] == ids[::-1]
    assert [s.id for s in store.list_sessions(source="cli")] == [ids[2], ids[0]]
    assert [s.id for s in store.list_sessions(status="completed")] == [ids[0]]
    assert [s.id for s in store.list_sessions(limit=2)] == [ids[3], ids[2]]
    latest = store.latest(source="cli")
    assert latest is not None and latest.id == ids[2]
    stats = store.stats()
    assert (stats.sessions, stats.messages) == (4, 0)
    assert stats.by_source == {"cli": 2, "run": 1, "telegram": 1}
    assert stats.by_status == {"completed": 1, "running": 3}
    assert stats.db_bytes > 0


def test_delete_removes_descendants_messages_and_index_entries(
    store: SqliteStore, db_path: Path
) -> None:
    root = store.create_session(NewSession(source="cli"))
    child = store.create_session(NewSession(source="subagent", parent_id=root.id))
    other = store.create_session(NewSession(source="cli"))
    for sid in (root.id, child.id, other.id):
        store.append_message(sid, Message.user(f"zebra crossing {sid}"))
    store.close()  # indexes everything
    store = SqliteStore(db_path)
    try:
        assert len(store.search("zebra")) == 3
        assert store.delete(root.id) == 2
        assert [h.session_id for h in store.search("zebra")] == [other.id]
        with pytest.raises(SessionNotFound):
            store.get_session(child.id)
        with pytest.raises(SessionNotFound):
            store.delete(root.id)
    finally:
        store.close()
    with raw(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM messages_tri_docsize").fetchone()[0] == 1
    assert integrity(db_path) == "ok"


def test_prune_removes_only_old_ended_trees(store: SqliteStore, db_path: Path) -> None:
    old_done = store.create_session(NewSession(source="cli"))
    old_child = store.create_session(NewSession(source="subagent", parent_id=old_done.id))
    old_with_live_child = store.create_session(NewSession(source="cli"))
    live_child = store.create_session(
        NewSession(source="subagent", parent_id=old_with_live_child.id)
    )
    recent = store.create_session(NewSession(source="cli"))
    running = store.create_session(NewSession(source="cli"))
    for s in (old_done, old_child, old_with_live_child, recent):
        store.end_session(s.id, SessionEnd("completed"))
    store.append_message(old_done.id, Message.user("bye"))
    ten_days_ago = time.time() - 10 * 86400
    with raw(db_path) as conn:
        conn.execute(
            "UPDATE sessions SET ended_at = ?, started_at = ? WHERE id IN (?, ?)",
            (ten_days_ago, ten_days_ago, old_done.id, old_with_live_child.id),
        )
    assert store.prune(older_than_days=7) == 2  # old_done and its (ended) child
    left = {s.id for s in store.list_sessions()}
    assert left == {old_with_live_child.id, live_child.id, recent.id, running.id}
    assert store.prune(older_than_days=7) == 0


def test_file_mode_is_0600(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    s = store.create_session(NewSession(source="cli"))
    store.append_message(s.id, Message.user("x"))
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    store.close()
    assert modes["state.db"] == 0o600
    assert modes.get("state.db-wal", 0o600) == 0o600
    assert modes.get("state.db-shm", 0o600) == 0o600


def test_existing_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    SqliteStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_redaction_keeps_secrets_out_of_every_file(tmp_path: Path) -> None:
    secret = "sk-test-PLANTEDSECRET0123456789abcdef"
    env_secret = "hunter2-but-longer"
    redact = Redactor.from_env({"MY_SERVICE_TOKEN": env_secret})
    path = tmp_path / "state.db"
    store = SqliteStore(path, redact=redact)
    new = NewSession(
        source="cli",
        system_prompt=f"key {secret}",
        title=f"t {env_secret}",
        goal=f"use {secret}",
        metadata={"auth": f"Bearer {secret}", secret: [env_secret]},
    )
    s = store.create_session(new)
    call = ToolCall("c1", "web", f'{{"headers": {{"Authorization": "Bearer {secret}"}}}}')
    said = Message(
        role="assistant",
        content=f"I used {secret}",
        reasoning=f"the key is {env_secret}",
        tool_calls=(call,),
    )
    store.append_message(s.id, said)
    store.append_message(s.id, Message.tool("c1", "web", f"echo: {secret} and {env_secret}"))
    store.rename(s.id, f"renamed {secret}")
    store.end_session(s.id, SessionEnd("failed", f"401 for key {secret}"))
    stored = store.messages(s.id)
    assert "[REDACTED]" in (stored[1].content or "")
    store.close()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("state.db")]
    assert files
    for p in files:
        data = p.read_bytes()
        assert secret.encode() not in data, p.name
        assert env_secret.encode() not in data, p.name
    assert b"[REDACTED]" in path.read_bytes()


def test_close_flushes_and_is_idempotent(db_path: Path) -> None:
    store = SqliteStore(db_path)
    s = store.create_session(NewSession(source="cli"))
    store.append_message(s.id, Message.user("x"))
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.append_message(s.id, Message.user("y"))
    with pytest.raises(StoreError, match="closed"):
        store.get_session(s.id)
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0
    assert_gap_free(db_path)
