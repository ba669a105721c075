"""Interrupts through the real HTTP stack: a loopback fake server, real subprocesses,
``interrupt()`` called from another thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from helpers.procs import group_alive, read_pid, wait_until
from talaria.agent.agent import Agent
from talaria.agent.run import INTERRUPTED_TOOL_RESULT, Run
from talaria.agent.stream import EventStream
from talaria.config import Settings
from talaria.events import TextDelta
from talaria.runtime import Runtime
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


def _agent(tmp_path: Path, server: FakeLLMServer, runtime: Runtime) -> Agent:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    settings = Settings.for_home(
        tmp_path / "home",
        **{"model.provider": "custom", "model.base_url": server.base_url, "model.name": "fake"},
    )
    return Agent(settings, runtime=runtime, cwd=work)


def _interrupt_when(
    run: Run, condition: threading.Event | object, timeout: float = 10
) -> threading.Thread:
    def worker() -> None:
        if isinstance(condition, threading.Event):
            condition.wait(timeout)
        else:
            assert callable(condition)
            wait_until(condition, timeout)
        run.interrupt("test interrupt")

    t = threading.Thread(target=worker, name="interrupter")
    t.start()
    return t


async def test_interrupt_during_streaming_response(tmp_path: Path) -> None:
    reply = Reply.say("word " * 400, chunks=400, chunk_delay=0.02)
    with FakeLLMServer([reply]) as server:
        runtime = Runtime()
        agent = _agent(tmp_path, server, runtime)
        stream = EventStream()
        run = agent.prepare("talk for a long time", runtime=runtime, sink=stream)
        got_text = threading.Event()

        async def consume() -> None:
            async for event in stream:
                if isinstance(event, TextDelta):
                    got_text.set()

        consumer = asyncio.ensure_future(consume())
        interrupter = _interrupt_when(run, got_text)
        result = await run.execute()
        stream.close()
        await consumer
        interrupter.join(5)
        assert result.status == "interrupted"
        assert result.error == "test interrupt"
        assert await server.wait_for_async(lambda s: s.in_flight == 0, 5)
        assert server.cancelled == 1  # the server saw the client hang up mid-stream
        assert len(server.requests) == 1
        partial = result.messages[-1]
        assert partial.role == "assistant" and partial.finish_reason == "interrupted"
        assert partial.content and partial.content.startswith("word")
        assert len(partial.content) < len("word " * 400)
        await runtime.aclose()


async def test_interrupt_during_terminal_sleep_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    command = f"echo $$ > {pidfile}; sleep 60 & sleep 60; wait"
    script = [Reply.call("terminal", {"command": command}), Reply.say("should never be asked")]
    with FakeLLMServer(script) as server:
        runtime = Runtime()
        agent = _agent(tmp_path, server, runtime)
        run = agent.prepare("sleep", runtime=runtime)
        interrupter = _interrupt_when(run, lambda: pidfile.exists() and pidfile.read_text().strip())
        result = await run.execute()
        interrupter.join(5)
        pgid = read_pid(pidfile)
        assert result.status == "interrupted"
        assert not group_alive(pgid), "a process of the interrupted command survived"
        assert len(server.requests) == 1  # no model call after the interrupt
        assert server.in_flight == 0
        # the dangling tool call is closed so the transcript can be resumed
        assert result.messages[-1].role == "tool"
        assert result.messages[-1].content == INTERRUPTED_TOOL_RESULT
        await runtime.aclose()


async def test_interrupting_one_run_leaves_another_untouched(tmp_path: Path) -> None:
    go = tmp_path / "go"
    pid_a = tmp_path / "a.pid"

    def handler(req: RecordedRequest) -> Reply:
        if any(m["role"] == "tool" for m in req.messages):
            return Reply.say("B finished")
        if "run A" in req.last_user_text:
            return Reply.call("terminal", {"command": f"echo $$ > {pid_a}; sleep 60"})
        return Reply.call(
            "terminal", {"command": f"while [ ! -f {go} ]; do sleep 0.02; done; echo B-ran"}
        )

    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = _agent(tmp_path, server, runtime)
        run_a = agent.prepare("run A", runtime=runtime)
        run_b = agent.prepare("run B", runtime=runtime)

        def interrupt_a_then_release_b() -> None:
            read_pid(pid_a)
            run_a.interrupt("only A")
            # B keeps running: release it only after A has been interrupted
            wait_until(lambda: run_a.result is not None, 10)
            go.write_text("go")

        t = threading.Thread(target=interrupt_a_then_release_b)
        t.start()
        result_a, result_b = await asyncio.gather(run_a.execute(), run_b.execute())
        t.join(5)
        assert result_a.status == "interrupted"
        assert result_b.status == "completed"
        assert result_b.final == "B finished"
        tool_out = [m.content for m in result_b.messages if m.role == "tool"]
        assert tool_out and "B-ran" in (tool_out[0] or "")
        await runtime.aclose()


def test_sync_agent_run_from_many_threads(tmp_path: Path) -> None:
    with FakeLLMServer() as server:  # echo
        settings = Settings.for_home(
            tmp_path / "home",
            **{"model.provider": "custom", "model.base_url": server.base_url},
        )
        agent = Agent(settings, cwd=tmp_path)
        answers: dict[int, str] = {}
        lock = threading.Lock()

        def worker(i: int) -> None:
            result = agent.run(f"question {i}")
            with lock:
                answers[i] = f"{result.status}:{result.final}"

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers == {i: f"completed:echo: question {i}" for i in range(8)}


async def test_arun_from_a_foreign_loop_delivers_events_on_the_callers_loop(
    tmp_path: Path,
) -> None:
    from talaria.events import TextDelta

    with FakeLLMServer([Reply.say("one two three four five six")]) as server:
        settings = Settings.for_home(
            tmp_path / "home", **{"model.provider": "custom", "model.base_url": server.base_url}
        )
        agent = Agent(settings, cwd=tmp_path)  # no runtime: runs on the background loop
        stream = EventStream()
        result = await agent.arun("count", sink=stream)
        stream.close()
        texts = [e.text async for e in stream if isinstance(e, TextDelta)]
    assert result.status == "completed"
    assert "".join(texts) == "one two three four five six"
