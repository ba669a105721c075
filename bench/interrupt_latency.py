"""How fast an interrupt takes effect.

For N trials each: a run is interrupted (``run.interrupt()`` from another thread)
while (a) a response is streaming from the loopback fake server and (b) a
``terminal("sleep 60")`` tool call is running.  We report the time from the
interrupt call until the run has returned ``interrupted``, until the server
saw the connection close, and until no process of the command's group is alive.
The requirement is < 300 ms for all of them.

    uv run python bench/interrupt_latency.py [-n 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

from talaria.agent.agent import Agent
from talaria.config import Settings
from talaria.runtime import Runtime
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.procs import group_alive
from talaria.testing.replies import Reply


def _poll(pred: object, timeout: float = 5.0) -> float:
    """Seconds until ``pred()`` is true (busy-poll at 1 ms)."""
    assert callable(pred)
    start = time.perf_counter()
    while not pred():
        if time.perf_counter() - start > timeout:
            raise TimeoutError
        time.sleep(0.001)
    return time.perf_counter()


async def trial(kind: str, tmp: Path) -> dict[str, float]:
    pidfile = tmp / f"pid-{time.monotonic_ns()}"
    if kind == "stream":
        script = [Reply.say("tick " * 2000, chunks=2000, chunk_delay=0.01)]
    else:
        script = [Reply.call("terminal", {"command": f"echo $$ > {pidfile}; sleep 60"})]
    with FakeLLMServer(script) as server:
        runtime = Runtime()
        settings = Settings.for_home(
            tmp / "home", **{"model.provider": "custom", "model.base_url": server.base_url}
        )
        agent = Agent(settings, runtime=runtime, cwd=tmp)
        run = agent.prepare("go", runtime=runtime)
        marks: dict[str, float] = {}

        def interrupter() -> None:
            if kind == "stream":
                server.wait_for(lambda s: s.in_flight == 1, 10)
                time.sleep(0.1)  # let some chunks flow
            else:
                _poll(lambda: pidfile.exists() and pidfile.read_text().strip() != "", 10)
                marks["pgid"] = int(pidfile.read_text())
            marks["t0"] = time.perf_counter()
            run.interrupt("bench")
            marks["server"] = _poll(lambda: server.in_flight == 0)
            if "pgid" in marks:
                marks["procs"] = _poll(lambda: not group_alive(int(marks["pgid"])))

        t = threading.Thread(target=interrupter)
        t.start()
        result = await run.execute()
        marks["returned"] = time.perf_counter()
        await asyncio.to_thread(t.join)
        await runtime.aclose()
        assert result.status == "interrupted", result.status
    out = {
        "run returned": marks["returned"] - marks["t0"],
        "server closed": marks["server"] - marks["t0"],
    }
    if "procs" in marks:
        out["process group dead"] = marks["procs"] - marks["t0"]
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="talaria-bench-"))
    for kind in ("stream", "terminal"):
        rows: dict[str, list[float]] = {}
        for _ in range(args.n):
            for k, v in (await trial(kind, tmp)).items():
                rows.setdefault(k, []).append(v * 1000)
        for k, vals in rows.items():
            print(
                f"{kind:9} {k:20} median {statistics.median(vals):6.1f} ms   "
                f"max {max(vals):6.1f} ms   (n={len(vals)}, target < 300 ms)"
            )


if __name__ == "__main__":
    asyncio.run(main())
