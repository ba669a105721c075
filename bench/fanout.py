"""Delegation fan-out cost, end to end from the CLI (process start included).

For N children (8, 32, 128) and a per-reply child latency (0.5 s and 0 s), a
real ``talaria run`` process asks the loopback fake server (running in this
benchmark process) for a parent turn that delegates N tasks, each child answers
after the latency, and the parent answers last.  With
``max_concurrent_children = N`` the ideal wall time is one round of latency.

Reported: wall time, the ideal, harness overhead = wall - ideal, and the
process's CPU time and peak RSS; per-child figures are the increase over a
1-child run divided by (N - 1).

    uv run python bench/fanout.py [--sizes 8,32,128] [--latencies 0.5,0]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


def handler_for(n: int, latency: float) -> Callable[[RecordedRequest], Reply]:
    def handler(req: RecordedRequest) -> Reply:
        first = str(req.messages[0].get("content", "")) if req.messages else ""
        if first.startswith("You are a subagent"):
            return Reply.say(f"done {req.last_user_text}", latency=latency)
        if not any(m.get("role") == "tool" for m in req.messages):
            return Reply.call("delegate_task", {"tasks": [{"goal": f"t{i}"} for i in range(n)]})
        return Reply.say("parent done")

    return handler


def run_once(n: int, latency: float, talaria: str) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one CLI run with ``n`` children."""
    home = Path(tempfile.mkdtemp(prefix="talaria-fanout-"))
    (home / "config.yaml").write_text(
        "toolsets: [delegation]\n"
        f"delegation: {{max_concurrent_children: {n}, max_tasks_per_call: {max(n, 64)}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALARIA_")}
    env["TALARIA_HOME"] = str(home)
    with FakeLLMServer(handler_for(n, latency)) as server, tempfile.NamedTemporaryFile("r") as rss:
        cmd = [
            talaria,
            "run",
            "go",
            "--json",
            "--provider",
            "custom",
            "--base-url",
            server.base_url,
        ]
        start = time.perf_counter()
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        _, _status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out = proc.stdout.read() if proc.stdout else b""
        data = json.loads(out.decode().strip().splitlines()[-1])
        if data["status"] != "completed" or len(data.get("children", [])) != n:
            raise SystemExit(f"run with {n} children failed: {data}")
        cpu = usage.ru_utime + usage.ru_stime  # /usr/bin/time's children included
        peak = int(rss.read().split()[-1]) / 1024
    return wall, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="8,32,128")
    parser.add_argument("--latencies", default="0.5,0")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point (best wall kept)")
    args = parser.parse_args()
    src = Path(__file__).resolve().parent.parent / "src"
    for path in (src, Path(sysconfig.get_paths()["purelib"])):
        compileall.compile_dir(str(path), quiet=1, workers=2)
    talaria = str(Path(sys.executable).parent / "talaria")
    sizes = [int(x) for x in args.sizes.split(",")]
    print(
        f"{'children':>8} {'latency':>8} {'wall':>8} {'ideal':>7} {'overhead':>9} "
        f"{'CPU':>7} {'CPU/child':>10} {'RSS':>8} {'RSS/child':>10}"
    )
    for latency in (float(x) for x in args.latencies.split(",")):
        base = min((run_once(1, latency, talaria) for _ in range(args.repeat)), key=lambda r: r[0])
        for n in sizes:
            runs = [run_once(n, latency, talaria) for _ in range(args.repeat)]
            wall, cpu, rss = min(runs, key=lambda r: r[0])
            per_cpu = (cpu - base[1]) / (n - 1) * 1000
            per_rss = (rss - base[2]) / (n - 1) * 1024
            print(
                f"{n:>8} {latency:>7.1f}s {wall:>7.3f}s {latency:>6.1f}s {wall - latency:>8.3f}s "
                f"{cpu:>6.2f}s {per_cpu:>8.2f}ms {rss:>6.1f}MB {per_rss:>8.0f}KB"
            )
    print("targets: 8 children @0.5 s < 0.8 s wall; < 5 ms CPU and < 2 MB RSS per child")


if __name__ == "__main__":
    main()
