"""Compression through the loopback fake server: threshold, tool pairs, lineage, overflow,
failure — and titles that are unique."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from talaria.agent.agent import Agent
from talaria.agent.compression import SUMMARISER_PROMPT, SUMMARY_MARK
from talaria.agent.stream import EventStream
from talaria.agent.titles import apply_unique_title
from talaria.config import Settings
from talaria.events import Notice
from talaria.runtime import Runtime
from talaria.store.base import NewSession
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply

MARK = SUMMARY_MARK.split("{")[0]


def is_summariser(req: RecordedRequest) -> bool:
    return bool(req.messages) and req.messages[0].get("content") == SUMMARISER_PROMPT


def tool_pairs_intact(messages: list[dict[str, Any]]) -> bool:
    called: set[str] = set()
    for m in messages:
        for c in m.get("tool_calls") or []:
            called.add(c["id"])
        if m["role"] == "tool" and m["tool_call_id"] not in called:
            return False
    return True


def _agent(tmp_path: Path, server: FakeLLMServer, runtime: Runtime, **cfg: Any) -> Agent:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    settings = Settings.for_home(
        tmp_path / "home",
        **{
            "model.provider": "custom",
            "model.base_url": server.base_url,
            "model.name": "small-model",
            "toolsets": ["terminal"],
            "agent.max_iterations": 30,
            **cfg,
        },
    )
    return Agent(settings, runtime=runtime, cwd=work)


def chatty_model(turns: int, summary: str = "SUMMARY: the user wants output; 6 commands ran."):
    """Tool calls with big outputs until ``turns`` calls were made, then a final answer.
    (Counted here, not from the transcript: compression removes old tool messages.)"""
    calls = {"n": 0}

    def handler(req: RecordedRequest) -> Reply:
        if is_summariser(req):
            return Reply.say(summary, usage=(500, 40))
        if calls["n"] >= turns:
            return Reply.say("final answer")
        calls["n"] += 1
        return Reply.call("terminal", {"command": "python3 -c \"print('x' * 1500)\""})

    return handler


async def test_long_conversation_is_compressed_with_lineage(tmp_path: Path) -> None:
    with FakeLLMServer(chatty_model(8)) as server:
        runtime = Runtime()
        agent = _agent(
            tmp_path,
            server,
            runtime,
            **{"model.context_length": 4000, "compression.protect_last_n": 4},
        )
        stream = EventStream()
        run = agent.prepare("produce lots of output", runtime=runtime, sink=stream)
        result = await run.execute()
        stream.close()
        notices = [e.message for e in [e async for e in stream] if isinstance(e, Notice)]
        assert result.status == "completed", result.error
        summarisers = [r for r in server.requests if is_summariser(r)]
        assert summarisers, "the threshold was never crossed"
        assert any("compressed" in n for n in notices)
        main = [r for r in server.requests if not is_summariser(r)]
        after = [r for r in main if any(MARK in str(m.get("content")) for m in r.messages)]
        assert after, "no request carried the summary"
        for req in main:
            assert tool_pairs_intact(req.messages)
        first = after[0].messages
        assert first[0]["role"] == "system" and first[1]["content"] == "produce lots of output"
        assert MARK in first[2]["content"]
        # lineage: the first session ended for compression, the next continues from it
        store = await runtime.astore(agent.settings)
        assert result.session_id is not None
        lineage = await asyncio.to_thread(store.lineage, result.session_id)
        assert len(lineage) == 1 + len(summarisers)
        assert lineage[0].end_reason == "compression" and lineage[0].status == "completed"
        assert lineage[-1].id == result.session_id and lineage[-1].parent_id == lineage[-2].id
        aux = await asyncio.to_thread(store.aux_usage, result.session_id)
        assert "compression" in aux and aux["compression"].usage.input_tokens == 500
        assert result.extra["aux_usage"]["compression"]["calls"] == len(summarisers)
        await runtime.aclose()


async def test_context_overflow_error_compresses_and_retries_once(tmp_path: Path) -> None:
    state = {"overflowed": 0}

    def handler(req: RecordedRequest) -> Reply:
        if is_summariser(req):
            return Reply.say("SUMMARY of earlier work")
        done = sum(1 for m in req.messages if m["role"] == "tool")
        compressed = any(MARK in str(m.get("content")) for m in req.messages)
        if done >= 5 and not compressed:
            state["overflowed"] += 1
            return Reply.fail(
                400,
                "This model's maximum context length is 4096 tokens",
                code="context_length_exceeded",
            )
        if done >= 5 or (compressed and done >= 1):
            return Reply.say("finished after compression")
        return Reply.call("terminal", {"command": "echo step"})

    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = _agent(tmp_path, server, runtime, **{"compression.protect_last_n": 2})
        result = await agent.prepare("go", runtime=runtime).execute()
        assert result.status == "completed", result.error
        assert result.final == "finished after compression"
        assert state["overflowed"] == 1
        assert sum(1 for r in server.requests if is_summariser(r)) == 1
        await runtime.aclose()


async def test_compression_failure_continues_when_it_still_fits(tmp_path: Path) -> None:
    def handler(req: RecordedRequest) -> Reply:
        if is_summariser(req):
            return Reply.fail(503, "summariser is down")
        done = sum(1 for m in req.messages if m["role"] == "tool")
        if done >= 6:
            return Reply.say("done without compression")
        return Reply.call("terminal", {"command": "python3 -c \"print('y' * 800)\""})

    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = _agent(
            tmp_path,
            server,
            runtime,
            **{
                "model.context_length": 8000,
                "compression.threshold": 0.2,
                "compression.protect_last_n": 2,
                "retry.max_retries": 0,
            },
        )
        stream = EventStream()
        result = await agent.prepare("go", runtime=runtime, sink=stream).execute()
        stream.close()
        notices = [e for e in [e async for e in stream] if isinstance(e, Notice)]
        assert result.status == "completed", result.error
        assert any("compression failed" in n.message and n.level == "warning" for n in notices)
        await runtime.aclose()


async def test_compression_failure_when_it_cannot_fit_fails_clearly(tmp_path: Path) -> None:
    def handler(req: RecordedRequest) -> Reply:
        if is_summariser(req):
            return Reply.fail(503, "summariser is down")
        done = sum(1 for m in req.messages if m["role"] == "tool")
        if done >= 4:
            return Reply.fail(
                400, "maximum context length exceeded", code="context_length_exceeded"
            )
        return Reply.call("terminal", {"command": "echo more"})

    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = _agent(
            tmp_path,
            server,
            runtime,
            **{"compression.protect_last_n": 2, "retry.max_retries": 0},
        )
        result = await agent.prepare("go", runtime=runtime).execute()
        assert result.status == "failed"
        assert "compressing it failed" in (result.error or "")
        assert "summariser is down" in (result.error or "")
        await runtime.aclose()


async def test_titles_are_unique(tmp_path: Path) -> None:
    runtime = Runtime()
    settings = Settings.for_home(tmp_path / "home")
    store = await runtime.astore(settings)
    a = await store.acreate_session(NewSession(source="cli"))
    b = await store.acreate_session(NewSession(source="cli"))
    c = await store.acreate_session(NewSession(source="cli"))
    assert await apply_unique_title(store, a.id, "Weekly report") == "Weekly report"
    assert await apply_unique_title(store, b.id, "Weekly report") == "Weekly report (2)"
    assert await apply_unique_title(store, c.id, "Weekly report") == "Weekly report (3)"
    await runtime.aclose()
