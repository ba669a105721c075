"""``talaria sessions`` and ``talaria run --resume/--continue`` through real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import talaria
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


def _flags(server: FakeLLMServer) -> list[str]:
    return ["--provider", "custom", "--base-url", server.base_url, "--model", "fake-model"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _run_json(home: Path, server: FakeLLMServer, *args: str) -> dict[str, object]:
    proc = talaria(["run", *args, "--json", *_flags(server)], home)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_run_json_carries_session_id_and_sessions_list_shows_it(home: Path) -> None:
    with FakeLLMServer() as server:
        first = _run_json(home, server, "first question about zebras")
        second = _run_json(home, server, "second question about giraffes")
    sid1, sid2 = first["session_id"], second["session_id"]
    assert isinstance(sid1, str) and isinstance(sid2, str) and sid1 != sid2
    proc = talaria(["sessions", "list", "--json"], home)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["id"] for r in rows] == [sid2, sid1]  # newest first
    for r in rows:
        assert r["source"] == "run"
        assert r["status"] == "completed"
        assert r["parent_id"] is None and r["root_id"] == r["id"] and r["depth"] == 0
        assert r["message_count"] == 3
        assert set(r["usage"]) == {"input_tokens", "output_tokens", "cost_usd"}
        assert r["started_at"] <= r["ended_at"]
    human = talaria(["sessions", "list"], home)
    assert sid1 in human.stdout and sid2 in human.stdout
    filtered = json.loads(
        talaria(["sessions", "list", "--json", "--status", "failed"], home).stdout
    )
    assert filtered == []


def test_show_search_rename_export_delete(home: Path) -> None:
    with FakeLLMServer() as server:
        sid = str(_run_json(home, server, "the quick_brown_fox jumps")["session_id"])
        other = str(_run_json(home, server, "something else entirely")["session_id"])
    prefix = sid[:6]
    show = talaria(["sessions", "show", prefix, "--json"], home)
    assert show.returncode == 0, show.stderr
    data = json.loads(show.stdout)
    assert data["id"] == sid
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant"]
    assert data["messages"][2]["content"] == "echo: the quick_brown_fox jumps"
    assert data["lineage"] == [sid]

    text = talaria(["sessions", "show", prefix], home).stdout
    assert "echo: the quick_brown_fox jumps" in text

    hits = json.loads(talaria(["sessions", "search", "brown_fox", "--json"], home).stdout)
    assert hits and {h["session_id"] for h in hits} == {sid}
    assert any("[" in h["snippet"] for h in hits)
    for hostile in ['"', "foo-bar", "AND", "(", "*", ""]:
        proc = talaria(["sessions", "search", hostile], home)
        assert proc.returncode == 0, (hostile, proc.stderr)

    assert talaria(["sessions", "rename", prefix, "Fox notes"], home).returncode == 0
    by_title = json.loads(talaria(["sessions", "show", "Fox notes", "--json"], home).stdout)
    assert by_title["id"] == sid and by_title["title"] == "Fox notes"

    export = talaria(["sessions", "export", "--all"], home)
    lines = [json.loads(x) for x in export.stdout.splitlines()]
    assert {x["id"] for x in lines} == {sid, other}
    assert all(len(x["messages"]) == 3 for x in lines)

    refused = talaria(["sessions", "delete", sid], home)  # no tty, no --yes
    assert refused.returncode != 0
    assert talaria(["sessions", "delete", sid, "--yes"], home).returncode == 0
    missing = talaria(["sessions", "show", sid], home)
    assert missing.returncode == 1
    assert sid in missing.stderr

    stats = talaria(["sessions", "stats"], home)
    assert "sessions  1" in stats.stdout


def test_prune_only_removes_old_ended_sessions(home: Path) -> None:
    with FakeLLMServer() as server:
        _run_json(home, server, "recent")
    proc = talaria(["sessions", "prune", "--older-than", "1", "--yes"], home)
    assert proc.returncode == 0
    assert "pruned 0 sessions" in proc.stdout
    proc = talaria(["sessions", "prune", "--older-than", "0", "--yes"], home)
    assert "pruned 1 session" in proc.stdout


def test_ambiguous_and_unknown_ids_are_clear_errors(home: Path) -> None:
    proc = talaria(["sessions", "show", "nope-not-here"], home)
    assert proc.returncode == 1
    assert "nope-not-here" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_resume_continues_the_same_session_with_history(home: Path) -> None:
    seen: list[list[str]] = []

    def handler(req: RecordedRequest) -> Reply:
        seen.append([f"{m['role']}:{m.get('content')}" for m in req.messages[1:]])
        return Reply.say(f"answer {len(seen)}")

    with FakeLLMServer(handler) as server:
        sid = str(_run_json(home, server, "remember the number 42")["session_id"])
        resumed = _run_json(home, server, "what number?", "--resume", sid[:8])
        continued = _run_json(home, server, "and again?", "--continue")
    assert resumed["session_id"] == sid
    assert continued["session_id"] == sid
    assert seen[1] == ["user:remember the number 42", "assistant:answer 1", "user:what number?"]
    assert seen[2][-1] == "user:and again?" and len(seen[2]) == 5
    show = json.loads(talaria(["sessions", "show", sid, "--json"], home).stdout)
    assert [m["seq"] for m in show["messages"]] == list(range(1, 8))
    assert show["status"] == "completed"
    assert show["api_calls"] == 3


def test_resume_unknown_session_exits_2(home: Path) -> None:
    with FakeLLMServer() as server:
        proc = talaria(["run", "x", "--resume", "deadbeef", *_flags(server)], home)
    assert proc.returncode == 2
    assert "deadbeef" in proc.stderr
