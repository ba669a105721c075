"""Delegation through the loopback server: scheduling, limits, ledger, usage, isolation."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from helpers.delegation import delegate_results, delegating_agent, fan_out, is_child
from talaria.runtime import Runtime
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


def say_done(req: RecordedRequest) -> Reply:
    return Reply.say(f"done: {req.last_user_text}", latency=0.15, usage=(50, 5))


async def test_sixteen_tasks_through_a_cap_of_four(tmp_path: Path) -> None:
    tasks = [{"goal": f"task number {i}"} for i in range(16)]
    with FakeLLMServer(fan_out(tasks, say_done)) as server:
        runtime = Runtime()
        agent = delegating_agent(
            tmp_path, server, runtime, **{"delegation.max_concurrent_children": 4}
        )
        result = await agent.prepare("fan out", runtime=runtime).execute()
        assert result.status == "completed", result.error
        assert result.final == "parent done: " + ",".join(["completed"] * 16)
        child_requests = [r for r in server.requests if is_child(r)]
        assert len(child_requests) == 16
        # never more than the cap at once, and the cap was actually used
        assert server.max_in_flight == 4
        results = delegate_results(server.requests[-1])
        assert [r["task_index"] for r in results] == list(range(16))  # input order
        assert [r["summary"] for r in results] == [f"done: task number {i}" for i in range(16)]
        for r in results:
            assert r["status"] == "completed" and r["error"] is None
            assert r["session_id"] and r["api_calls"] == 1
            assert r["usage"]["input_tokens"] == 50 and r["usage"]["output_tokens"] == 5
        # usage rolls up: the parent's result includes every child's tokens
        assert result.usage.input_tokens >= 16 * 50
        assert len(result.extra["children"]) == 16
        await runtime.aclose()


async def test_one_failing_child_does_not_cancel_its_siblings(tmp_path: Path) -> None:
    def child(req: RecordedRequest) -> Reply:
        goal = req.last_user_text
        if goal == "explode":
            return Reply.fail(400, "this child's request is malformed")
        if goal == "say nothing":
            return Reply.say("")
        return Reply.say(f"ok {goal}", latency=0.1)

    tasks = [{"goal": "a"}, {"goal": "explode"}, {"goal": "say nothing"}, {"goal": "b"}]
    with FakeLLMServer(fan_out(tasks, child)) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path, server, runtime)
        result = await agent.prepare("go", runtime=runtime).execute()
        assert result.status == "completed"
        results = delegate_results(server.requests[-1])
        assert [r["status"] for r in results] == ["completed", "failed", "failed", "completed"]
        assert "malformed" in results[1]["error"]
        assert results[1]["summary"] is None
        assert "empty answer" in results[2]["error"]  # honest: empty is not completed
        store = await runtime.astore(agent.settings)
        assert (
            await asyncio.to_thread(store.get_session, results[2]["session_id"])
        ).status == "failed"
        await runtime.aclose()


async def test_child_wall_clock_timeout(tmp_path: Path) -> None:
    def child(req: RecordedRequest) -> Reply:
        if req.last_user_text == "hang":
            return Reply(hang=True)
        return Reply.say("quick")

    tasks = [{"goal": "hang"}, {"goal": "fast"}]
    with FakeLLMServer(fan_out(tasks, child)) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path, server, runtime, **{"delegation.child_timeout_s": 0.5})
        result = await agent.prepare("go", runtime=runtime).execute()
        results = delegate_results(server.requests[-1])
        assert [r["status"] for r in results] == ["timed_out", "completed"]
        assert "delegation.child_timeout_s" in results[0]["error"]
        assert await server.wait_for_async(lambda s: s.in_flight == 0, 5)
        store = await runtime.astore(agent.settings)
        assert (
            await asyncio.to_thread(store.get_session, results[0]["session_id"])
        ).status == "timed_out"
        assert result.status == "completed"
        await runtime.aclose()


async def test_child_idle_timeout_kills_its_tool(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"

    def child(req: RecordedRequest) -> Reply:
        return Reply.call("terminal", {"command": f"echo $$ > {pidfile}; sleep 60"})

    with FakeLLMServer(fan_out([{"goal": "stall"}], child)) as server:
        runtime = Runtime()
        agent = delegating_agent(
            tmp_path, server, runtime, **{"delegation.child_idle_timeout_s": 0.4}
        )
        await agent.prepare("go", runtime=runtime).execute()
        results = delegate_results(server.requests[-1])
        assert results[0]["status"] == "timed_out"
        assert "no progress" in results[0]["error"]
        from helpers.procs import group_alive

        assert not group_alive(int(pidfile.read_text()))
        await runtime.aclose()


async def test_depth_limits_and_grandchildren(tmp_path: Path) -> None:
    seen_tools: dict[str, list[str]] = {}

    def handler(req: RecordedRequest) -> Reply:
        goal = req.last_user_text
        seen_tools[goal if is_child(req) else "root"] = req.tool_names
        if not is_child(req):
            if not any(m["role"] == "tool" for m in req.messages):
                return Reply.call(
                    "delegate_task", {"goal": "child", "toolsets": ["delegation", "todo"]}
                )
            return Reply.say("root done")
        if goal == "child":
            if "delegate_task" not in req.tool_names:
                return Reply.say("child cannot delegate")
            if not any(m["role"] == "tool" for m in req.messages):
                return Reply.call(
                    "delegate_task", {"goal": "grandchild", "toolsets": ["todo", "delegation"]}
                )
            return Reply.say("child done: " + delegate_results(req)[0]["summary"])
        return Reply.say("grandchild done")

    # max_depth 1: the child has no delegate_task at all
    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path / "d1", server, runtime)
        await agent.prepare("go", runtime=runtime).execute()
        assert "delegate_task" in seen_tools["root"]
        assert "delegate_task" not in seen_tools["child"]
        await runtime.aclose()
    seen_tools.clear()
    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path / "d2", server, runtime, **{"delegation.max_depth": 2})
        result = await agent.prepare("go", runtime=runtime).execute()
        assert "delegate_task" in seen_tools["child"]
        assert "delegate_task" not in seen_tools["grandchild"]
        assert seen_tools["grandchild"] == ["todo"]
        assert result.final == "root done"
        store = await runtime.astore(agent.settings)
        root = await asyncio.to_thread(store.get_session, result.session_id or "")
        (child,) = await asyncio.to_thread(store.children, root.id)
        (grandchild,) = await asyncio.to_thread(store.children, child.id)
        assert (child.depth, grandchild.depth) == (1, 2)
        assert grandchild.root_id == root.id and grandchild.parent_id == child.id
        assert grandchild.source == "subagent" and grandchild.goal == "grandchild"
        assert [r.id for r in await asyncio.to_thread(store.lineage, grandchild.id)] == [
            root.id,
            child.id,
            grandchild.id,
        ]
        await runtime.aclose()


async def test_model_allow_list(tmp_path: Path) -> None:
    def child(req: RecordedRequest) -> Reply:
        return Reply.say(f"{req.model} did it")

    tasks = [
        {"goal": "default model"},
        {"goal": "cheap model", "model": "cheap-model"},
        {"goal": "forbidden", "model": "gpt-9-ultra"},
    ]
    with FakeLLMServer(fan_out(tasks, child)) as server:
        runtime = Runtime()
        agent = delegating_agent(
            tmp_path,
            server,
            runtime,
            **{
                "delegation.models": [
                    {"name": "cheap-model", "provider": "custom", "base_url": server.base_url}
                ]
            },
        )
        await agent.prepare("go", runtime=runtime).execute()
        results = delegate_results(server.requests[-1])
        assert results[0]["summary"] == "parent-model did it"
        assert results[1]["summary"] == "cheap-model did it"
        assert results[1]["model"] == "cheap-model"
        assert results[2]["status"] == "failed"
        assert "gpt-9-ultra" in results[2]["error"] and "delegation.models" in results[2]["error"]
        assert sorted(r.model for r in server.requests if is_child(r)) == [
            "cheap-model",
            "parent-model",
        ]
        await runtime.aclose()


async def test_too_many_tasks_is_a_clear_tool_error(tmp_path: Path) -> None:
    tasks = [{"goal": f"t{i}"} for i in range(5)]

    def final(req: RecordedRequest) -> Reply:
        return Reply.say("saw: " + req.messages[-1]["content"])

    with FakeLLMServer(fan_out(tasks, say_done, final)) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path, server, runtime, **{"delegation.max_tasks_per_call": 4})
        result = await agent.prepare("go", runtime=runtime).execute()
        assert "delegation.max_tasks_per_call" in (result.final or "")
        assert not any(is_child(r) for r in server.requests)
        await runtime.aclose()


async def test_store_consistency_200_children_cap_32(tmp_path: Path) -> None:
    tasks = [{"goal": f"job {i}"} for i in range(200)]
    with FakeLLMServer(fan_out(tasks, lambda r: Reply.say(f"did {r.last_user_text}"))) as server:
        runtime = Runtime()
        agent = delegating_agent(
            tmp_path,
            server,
            runtime,
            **{"delegation.max_concurrent_children": 32, "delegation.max_tasks_per_call": 200},
        )
        result = await agent.prepare("go", runtime=runtime).execute()
        assert result.status == "completed"
        results = delegate_results(server.requests[-1])
        assert [r["status"] for r in results] == ["completed"] * 200
        store = await runtime.astore(agent.settings)
        root_id = result.session_id
        children = await asyncio.to_thread(store.children, root_id or "")
        assert len(children) == 200
        by_goal = {c.goal: c for c in children}
        for i in range(200):
            c = by_goal[f"job {i}"]
            assert c.parent_id == root_id and c.root_id == root_id and c.depth == 1
            assert c.status == "completed" and c.source == "subagent"
            msgs = await asyncio.to_thread(store.messages, c.id)
            assert [m.role for m in msgs] == ["system", "user", "assistant"]
            assert msgs[-1].content == f"did job {i}"
        root = await asyncio.to_thread(store.get_session, root_id or "")
        assert root.input_tokens >= sum(c.input_tokens for c in children)
        await runtime.aclose()
        import sqlite3

        conn = sqlite3.connect(agent.settings.paths.state_db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


def test_eight_threads_each_fanning_out_eight(tmp_path: Path) -> None:
    def handler(req: RecordedRequest) -> Reply:
        if is_child(req):
            return Reply.say(f"answer for <{req.last_user_text}>", latency=0.05)
        if not any(m["role"] == "tool" for m in req.messages):
            who = req.last_user_text
            return Reply.call(
                "delegate_task", {"tasks": [{"goal": f"{who}/task{i}"} for i in range(8)]}
            )
        return Reply.say(json.dumps([r["summary"] for r in delegate_results(req)]))

    with FakeLLMServer(handler) as server:
        agent = delegating_agent(tmp_path, server)
        finals: dict[int, list[str]] = {}
        errors: list[str] = []
        lock = threading.Lock()

        def worker(t: int) -> None:
            r = agent.run(f"thread{t}")
            with lock:
                if r.status != "completed":
                    errors.append(f"{t}: {r.status} {r.error}")
                else:
                    finals[t] = json.loads(r.final or "[]")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
    assert errors == []
    for t in range(8):
        assert finals[t] == [f"answer for <thread{t}/task{i}>" for i in range(8)]


async def test_a_leaf_cannot_dodge_max_depth_through_its_shell(tmp_path: Path) -> None:
    """A child runs ``talaria run`` in its terminal: that inner agent gets no delegate_task."""
    import sys

    inner_tools: list[list[str]] = []

    def handler(req: RecordedRequest) -> Reply:
        if req.last_user_text == "inner":
            inner_tools.append(req.tool_names)
            return Reply.say("inner done")
        if is_child(req):
            if any(m["role"] == "tool" for m in req.messages):
                return Reply.say("child done")
            cmd = (
                f"{sys.executable} -m talaria run inner --provider custom "
                f"--base-url {server.base_url} --toolsets terminal,delegation"
            )
            return Reply.call("terminal", {"command": cmd})
        if not any(m["role"] == "tool" for m in req.messages):
            return Reply.call("delegate_task", {"goal": "leaf"})
        return Reply.say("root done")

    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path, server, runtime)
        result = await agent.prepare("go", runtime=runtime).execute()
        assert result.status == "completed"
        assert inner_tools == [["terminal"]]  # delegation dropped: depth 1 ≥ max_depth 1
        await runtime.aclose()
