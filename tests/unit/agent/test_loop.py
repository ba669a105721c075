"""The turn loop with a scripted provider: tools, concurrency, errors, budget."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from helpers.agents import run_collecting, scripted_agent
from talaria.events import ModelRequestStarted, TextDelta, ToolFinished, ToolStarted
from talaria.testing.replies import RecordedRequest, Reply, ToolCallSpec
from talaria.tools.base import tool


async def test_tool_round_trip(tmp_path: Path) -> None:
    agent, provider = scripted_agent(
        tmp_path,
        [
            Reply.call("write_file", {"path": "out.txt", "content": "hello\n"}),
            Reply.call("read_file", {"path": "out.txt"}),
            Reply.say("Wrote and read it."),
        ],
    )
    result, events = await run_collecting(agent, "write a file")
    assert result.status == "completed"
    assert result.final == "Wrote and read it."
    assert (tmp_path / "work" / "out.txt").read_text() == "hello\n"
    assert result.api_calls == 3 and result.tool_calls == 2
    # the model saw the read result in its third request
    third = provider.requests[2]
    tool_msgs = [m for m in third.messages if m["role"] == "tool"]
    assert "hello" in tool_msgs[-1]["content"]
    assert any(isinstance(e, ToolFinished) and e.name == "read_file" for e in events)
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


async def test_independent_tool_calls_run_concurrently(tmp_path: Path) -> None:
    """Four calls rendezvous inside the tool: only possible if they overlap in time."""
    barrier = asyncio.Barrier(4)
    order: list[int] = []

    @tool(toolset="test")
    async def rendezvous(n: int) -> str:
        """Wait until all four calls are running.

        Args:
            n: call number
        """
        async with asyncio.timeout(5):  # sequential execution would never get past this
            await barrier.wait()
        await asyncio.sleep(0.01 * (4 - n))  # finish in reverse order
        order.append(n)
        return f"done {n}"

    calls = [ToolCallSpec("rendezvous", {"n": i}) for i in range(4)]
    agent, provider = scripted_agent(
        tmp_path, [Reply.calls(calls), Reply.say("ok")], tools=[rendezvous]
    )
    result, _ = await run_collecting(agent, "go")
    assert result.status == "completed"
    assert order == [3, 2, 1, 0]  # they really finished out of order...
    tool_msgs = [m for m in provider.requests[1].messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs] == [
        "done 0",
        "done 1",
        "done 2",
        "done 3",
    ]  # ...results in call order


async def test_sync_tools_run_in_threads_concurrently(tmp_path: Path) -> None:
    barrier = threading.Barrier(3, timeout=5)
    threads: set[str] = set()

    @tool(toolset="test")
    def blocking(n: int) -> str:
        """Block until three calls are in flight.

        Args:
            n: call number
        """
        threads.add(threading.current_thread().name)
        barrier.wait()
        return str(n)

    calls = [ToolCallSpec("blocking", {"n": i}) for i in range(3)]
    agent, _ = scripted_agent(tmp_path, [Reply.calls(calls), Reply.say("ok")], tools=[blocking])
    result, _ = await run_collecting(agent, "go")
    assert result.status == "completed"
    assert len(threads) == 3
    assert threading.main_thread().name not in threads


async def test_bad_calls_become_error_results_and_the_run_continues(tmp_path: Path) -> None:
    @tool(toolset="test")
    def explode() -> str:
        """Always fails."""
        raise ValueError("kaboom")

    script = [
        Reply.calls(
            [
                ToolCallSpec("no_such_tool", {}),
                ToolCallSpec("read_file", "{not json"),
                ToolCallSpec("read_file", {"path": 5}),
                ToolCallSpec("explode", {}),
            ]
        ),
        Reply.say("recovered"),
    ]
    agent, provider = scripted_agent(tmp_path, script, tools=[explode])
    result, events = await run_collecting(agent, "go")
    assert result.status == "completed"
    assert result.final == "recovered"
    results = [m["content"] for m in provider.requests[1].messages if m["role"] == "tool"]
    assert "unknown tool 'no_such_tool'" in results[0]
    assert "not valid JSON" in results[1]
    assert "Expected `str`, got `int`" in results[2] and "path" in results[2]
    assert "ValueError: kaboom" in results[3]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert all(e.is_error for e in finished)


async def test_iteration_cap_ends_with_max_iterations_and_warns(tmp_path: Path) -> None:
    def always_call(req: RecordedRequest) -> Reply:
        return Reply.call("todo", {})

    agent, provider = scripted_agent(tmp_path, always_call, agent__max_iterations=3)
    result, events = await run_collecting(agent, "loop forever")
    assert result.status == "max_iterations"
    assert result.api_calls == 3
    assert "agent.max_iterations" in (result.error or "")
    assert sum(isinstance(e, ModelRequestStarted) for e in events) == 3
    # the model was told the budget was running out before the last call
    last_tool = [m for m in provider.requests[2].messages if m["role"] == "tool"][-1]
    assert "1 model call left" in last_tool["content"]
    second_tool = [m for m in provider.requests[1].messages if m["role"] == "tool"][-1]
    assert "2 model calls left" in second_tool["content"]


async def test_empty_answer_is_a_failure_not_a_completion(tmp_path: Path) -> None:
    agent, _ = scripted_agent(tmp_path, [Reply.say("")])
    result, _ = await run_collecting(agent, "hi")
    assert result.status == "failed"
    assert "empty answer" in (result.error or "")


async def test_provider_error_fails_the_run_with_its_message(tmp_path: Path) -> None:
    agent, _ = scripted_agent(tmp_path, [Reply.fail(400, "model does not support tools")])
    result, _ = await run_collecting(agent, "hi")
    assert result.status == "failed"
    assert "model does not support tools" in (result.error or "")


async def test_text_streams_as_events_and_nothing_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent, _ = scripted_agent(tmp_path, [Reply.say("one two three four", chunks=4)])
    result, events = await run_collecting(agent, "hi")
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 4
    assert "".join(deltas) == "one two three four"
    assert result.final == "one two three four"
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


async def test_tool_schema_sent_to_model(tmp_path: Path) -> None:
    agent, provider = scripted_agent(tmp_path, [Reply.say("hi")], toolsets=["file"])
    await run_collecting(agent, "hi")
    names = provider.requests[0].tool_names
    assert set(names) == {"read_file", "write_file", "patch", "search_files"}
    schema = next(t for t in provider.requests[0].tools if t["function"]["name"] == "patch")
    params = schema["function"]["parameters"]
    assert set(params["required"]) == {"path", "old_string", "new_string"}
    assert json.dumps(params)  # serialisable


async def test_tool_events_carry_arguments(tmp_path: Path) -> None:
    agent, _ = scripted_agent(
        tmp_path, [Reply.call("terminal", {"command": "echo hi"}), Reply.say("done")]
    )
    _, events = await run_collecting(agent, "go")
    started = [e for e in events if isinstance(e, ToolStarted)]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert json.loads(started[0].arguments) == {"command": "echo hi"}
    assert finished[0].preview.startswith("hi")
