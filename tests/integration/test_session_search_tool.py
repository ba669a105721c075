"""The agent's ``session_search`` tool finds past sessions and never the current one."""

from __future__ import annotations

from pathlib import Path

from helpers.agents import run_collecting, scripted_agent
from talaria.runtime import Runtime
from talaria.testing.replies import RecordedRequest, Reply


async def test_session_search_finds_past_sessions_only(tmp_path: Path) -> None:
    runtime = Runtime()
    first, _ = scripted_agent(
        tmp_path, [Reply.say("Noted: the project codename is AUBERGINE_42.")], runtime=runtime
    )
    past, _ = await run_collecting(first, "remember codename aubergine_42", runtime)
    assert past.status == "completed"

    def second_model(req: RecordedRequest) -> Reply:
        if not any(m["role"] == "tool" for m in req.messages):
            return Reply.call("session_search", {"query": "aubergine_42"})
        return Reply.say("found it")

    second, provider = scripted_agent(tmp_path, second_model, runtime=runtime)
    current, _ = await run_collecting(second, "what was the codename? aubergine_42", runtime)
    assert current.status == "completed"
    tool_msg = next(m for m in provider.requests[1].messages if m["role"] == "tool")
    text = tool_msg["content"]
    assert past.session_id is not None and past.session_id in text
    assert current.session_id is not None and current.session_id not in text
    assert "[AUBERGINE_42]" in text or "[aubergine_42]" in text.lower()
    await runtime.aclose()


async def test_session_search_with_nothing_found(tmp_path: Path) -> None:
    runtime = Runtime()

    def model(req: RecordedRequest) -> Reply:
        if not any(m["role"] == "tool" for m in req.messages):
            return Reply.call("session_search", {"query": 'zzz "unbalanced ( AND'})
        return Reply.say("nothing")

    agent, provider = scripted_agent(tmp_path, model, runtime=runtime)
    result, _ = await run_collecting(agent, "search", runtime)
    assert result.status == "completed"
    tool_msg = next(m for m in provider.requests[1].messages if m["role"] == "tool")
    assert "No past messages match" in tool_msg["content"]
    await runtime.aclose()
