"""Every run is recorded as it happens: row first, messages live, one terminal status."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path

from helpers.agents import run_collecting, scripted_agent
from helpers.procs import read_pid, wait_until
from talaria.agent.agent import Agent
from talaria.agent.run import INTERRUPTED_TOOL_RESULT, Run
from talaria.agent.stream import EventStream
from talaria.config import Settings
from talaria.events import Notice
from talaria.runtime import Runtime
from talaria.store.sqlite import open_store
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


async def test_run_is_recorded_with_messages_usage_and_status(tmp_path: Path) -> None:
    runtime = Runtime()
    agent, _ = scripted_agent(
        tmp_path,
        [
            Reply.call("todo", {}, usage=(100, 10)),
            Reply.say("All done.", usage=(150, 20), cost=0.002),
        ],
        runtime=runtime,
    )
    result, _ = await run_collecting(agent, "plan my day", runtime)
    assert result.status == "completed"
    assert result.session_id is not None
    store = await runtime.astore(agent.settings)
    rec = await asyncio.to_thread(store.get_session, result.session_id)
    assert rec.status == "completed"
    assert rec.source == "api"
    assert rec.ended_at is not None
    assert (rec.input_tokens, rec.output_tokens) == (250, 30)
    assert rec.api_calls == 2
    assert rec.cost_usd is not None and abs(rec.cost_usd - 0.002) < 1e-9
    msgs = await asyncio.to_thread(store.messages, result.session_id)
    assert [m.role for m in msgs] == ["system", "user", "assistant", "tool", "assistant"]
    assert [m.seq for m in msgs] == [1, 2, 3, 4, 5]
    assert msgs[1].content == "plan my day"
    assert msgs[2].tool_calls[0].name == "todo"
    assert msgs[3].tool_call_id == msgs[2].tool_calls[0].id
    assert msgs[4].content == "All done."
    assert rec.message_count == 5 and rec.tool_call_count == 1
    await runtime.aclose()


def test_session_row_and_prompt_exist_before_the_first_model_call(tmp_path: Path) -> None:
    """Checked from inside the fake model while it is being asked."""
    home = tmp_path / "home"
    seen: list[tuple[str, list[str]]] = []

    def handler(req: RecordedRequest) -> Reply:
        store = open_store(Settings.for_home(home))
        try:
            running = store.list_sessions(status="running")
            assert len(running) == 1
            seen.append((running[0].status, [m.role for m in store.messages(running[0].id)]))
        finally:
            store.close()
        return Reply.say("ok")

    with FakeLLMServer(handler) as server:
        settings = Settings.for_home(
            home, **{"model.provider": "custom", "model.base_url": server.base_url}
        )
        result = Agent(settings, cwd=tmp_path).run("hello")
    assert result.status == "completed", result.error
    assert seen == [("running", ["system", "user"])]


async def test_interrupt_still_records_terminal_status_and_transcript(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    runtime = Runtime()
    agent, _ = scripted_agent(
        tmp_path,
        [Reply.call("terminal", {"command": f"echo $$ > {pidfile}; sleep 60"})],
        runtime=runtime,
    )
    run = agent.prepare("sleep", runtime=runtime)

    def stop_when_running() -> None:
        read_pid(pidfile)
        run.interrupt("stop")

    t = threading.Thread(target=stop_when_running)
    t.start()
    result = await run.execute()
    t.join(5)
    assert result.status == "interrupted"
    store = await runtime.astore(agent.settings)
    assert result.session_id is not None
    rec = await asyncio.to_thread(store.get_session, result.session_id)
    assert rec.status == "interrupted"
    assert rec.end_reason == "stop"
    msgs = await asyncio.to_thread(store.messages, result.session_id)
    assert [m.role for m in msgs] == ["system", "user", "assistant", "tool"]
    assert msgs[-1].content == INTERRUPTED_TOOL_RESULT
    await runtime.aclose()


async def test_secrets_never_reach_the_database_file(tmp_path: Path) -> None:
    secret = "sk-or-v1-" + "9f8e7d6c5b4a" * 4
    runtime = Runtime()
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text(f"the key is {secret} ok\n")
    from talaria.testing.scripted import ScriptedProvider

    provider = ScriptedProvider(
        [Reply.call("read_file", {"path": "notes.txt"}), Reply.say(f"I saw {secret}")]
    )
    settings = Settings.for_home(home, {"OPENROUTER_API_KEY": secret})
    agent = Agent(settings, model_provider=provider, runtime=runtime, cwd=work)
    result = await agent.prepare(f"read notes; my key is {secret}", runtime=runtime).execute()
    assert result.status == "completed"
    # tool output is redacted before it goes back to the model (the user's own words
    # are the user's to send)
    tool_msgs = [m for m in provider.requests[1].messages if m["role"] == "tool"]
    assert tool_msgs and secret not in str(tool_msgs)
    await runtime.aclose()
    blob = b"".join(p.read_bytes() for p in home.glob("state.db*"))
    assert blob  # the database exists
    assert secret.encode() not in blob
    assert b"[REDACTED]" in blob


async def test_store_failure_does_not_kill_the_run(tmp_path: Path) -> None:
    from talaria.agent.recorder import Recorder
    from talaria.store.base import NewSession, SessionStore, StoreError

    async def broken_opener() -> SessionStore:
        raise StoreError("disk on fire")

    agent, _ = scripted_agent(tmp_path, [Reply.say("still answered")])
    rt = Runtime()
    prepared = agent.prepare("hi", runtime=rt)
    run = Run(replace(prepared.setup, recorder=Recorder(broken_opener, NewSession(source="api"))))
    stream = EventStream()
    run = Run(replace(run.setup, sink=stream))
    result = await run.execute()
    stream.close()
    notices = [e for e in [e async for e in stream] if isinstance(e, Notice)]
    assert result.status == "completed"
    assert any("disk on fire" in n.message and n.level == "error" for n in notices)
    assert result.final == "still answered"
    assert result.session_id is None
    await rt.aclose()


def test_many_threads_record_distinct_sessions(tmp_path: Path) -> None:
    with FakeLLMServer() as server:
        settings = Settings.for_home(
            tmp_path / "home", **{"model.provider": "custom", "model.base_url": server.base_url}
        )
        agent = Agent(settings, cwd=tmp_path)
        ids: list[str] = []
        lock = threading.Lock()

        def worker(i: int) -> None:
            r = agent.run(f"q{i}")
            assert r.session_id
            with lock:
                ids.append(r.session_id)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert len(set(ids)) == 8
    store = open_store(settings)
    try:
        assert wait_until(lambda: len(store.list_sessions(status="completed")) == 8, 5)
        for sid in ids:
            msgs = store.messages(sid)
            assert msgs[-1].content == f"echo: {msgs[1].content}"
    finally:
        store.close()
