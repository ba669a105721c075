"""Tree interrupt: one interrupt stops every descendant — streams, tools, sessions."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from helpers.cli import spawn
from helpers.delegation import delegating_agent, fan_out, is_child
from helpers.procs import group_alive, wait_until
from talaria.runtime import Runtime
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


def _mixed_children(pids: Path) -> Callable[[RecordedRequest], Reply]:
    """Even tasks stream slowly forever; odd tasks sit in ``sleep 60``."""

    def child(req: RecordedRequest) -> Reply:
        n = int(req.last_user_text.split()[-1])
        if n % 2 == 0:
            return Reply.say("tick " * 5000, chunks=5000, chunk_delay=0.02)
        return Reply.call("terminal", {"command": f"echo $$ > {pids}/{n}; sleep 60"})

    return child


def _all_busy(server: FakeLLMServer, pids: Path) -> bool:
    return server.in_flight >= 8 and len(list(pids.iterdir())) >= 8


async def test_tree_interrupt_stops_every_child(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    tasks = [{"goal": f"task {i}"} for i in range(16)]
    with FakeLLMServer(fan_out(tasks, _mixed_children(pids))) as server:
        runtime = Runtime()
        agent = delegating_agent(
            tmp_path, server, runtime, **{"delegation.max_concurrent_children": 16}
        )
        run = agent.prepare("fan out and wait", runtime=runtime)

        def interrupter() -> None:
            assert wait_until(lambda: _all_busy(server, pids), 30), "children never got busy"
            run.interrupt("user pressed stop")

        t = threading.Thread(target=interrupter)
        t.start()
        result = await run.execute()
        t.join(10)
        assert result.status == "interrupted"
        groups = [int(p.read_text()) for p in pids.iterdir()]
        assert len(groups) == 8
        assert not any(group_alive(g) for g in groups)
        assert await server.wait_for_async(lambda s: s.in_flight == 0, 5)
        # no request left after the interrupt: 1 parent + 16 first child requests
        assert len(server.requests) == 17
        children = result.extra["children"]
        assert len(children) == 16
        assert {c["status"] for c in children} == {"interrupted"}
        store = await runtime.astore(agent.settings)
        assert result.session_id is not None
        kids = await asyncio.to_thread(store.children, result.session_id)
        assert len(kids) == 16 and {k.status for k in kids} == {"interrupted"}
        assert (
            await asyncio.to_thread(store.get_session, result.session_id)
        ).status == "interrupted"
        await runtime.aclose()


async def test_interrupting_one_tree_leaves_another_running(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    release = tmp_path / "release"

    def child(req: RecordedRequest) -> Reply:
        goal = req.last_user_text
        if any(m["role"] == "tool" for m in req.messages):
            return Reply.say(f"finished {goal}")
        if goal.startswith("A"):
            return Reply.call("terminal", {"command": f"echo $$ > {pids}/{goal}; sleep 60"})
        return Reply.call("terminal", {"command": f"while [ ! -f {release} ]; do sleep 0.02; done"})

    def handler(req: RecordedRequest) -> Reply:
        if is_child(req):
            return child(req)
        tree = req.last_user_text
        if not any(m["role"] == "tool" for m in req.messages):
            return Reply.call(
                "delegate_task", {"tasks": [{"goal": f"{tree}{i}"} for i in range(3)]}
            )
        return Reply.say(f"{tree} done")

    with FakeLLMServer(handler) as server:
        runtime = Runtime()
        agent = delegating_agent(tmp_path, server, runtime)
        run_a = agent.prepare("A", runtime=runtime)
        run_b = agent.prepare("B", runtime=runtime)

        def driver() -> None:
            assert wait_until(lambda: len(list(pids.iterdir())) == 3, 30)
            run_a.interrupt("stop A only")
            wait_until(lambda: run_a.result is not None, 10)
            release.write_text("go")

        t = threading.Thread(target=driver)
        t.start()
        result_a, result_b = await asyncio.gather(run_a.execute(), run_b.execute())
        t.join(10)
        assert result_a.status == "interrupted"
        assert result_b.status == "completed" and result_b.final == "B done"
        assert [c["status"] for c in result_b.extra["children"]] == ["completed"] * 3
        await runtime.aclose()


def test_sigint_to_a_real_run_stops_the_whole_tree(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    tasks = [{"goal": f"task {i}"} for i in range(6)]
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("toolsets: [terminal, delegation]\n")
    with FakeLLMServer(fan_out(tasks, _mixed_children(pids))) as server:
        proc = spawn(
            ["run", "go", "--json", "--provider", "custom", "--base-url", server.base_url],
            home,
            cwd=tmp_path,
        )
        try:
            assert wait_until(
                lambda: server.in_flight >= 3 and len(list(pids.iterdir())) >= 3, 30
            ), "children never got busy"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        groups = [int(p.read_text()) for p in pids.iterdir()]
        assert not any(group_alive(g) for g in groups)
        assert server.wait_for(lambda s: s.in_flight == 0, 5)
        data = json.loads(out.strip().splitlines()[-1])
        assert data["status"] == "interrupted"
        assert len(data["children"]) == 6
        assert {c["status"] for c in data["children"]} == {"interrupted"}
