"""``talaria demo``: see delegation work before configuring any provider.

Starts the loopback scripted model from :mod:`talaria.testing`, and runs a real
parent agent that fans out to six subagents doing real tool work (files
written, commands run) in a temporary directory.  Everything except the model
is real: the HTTP stack, the scheduler, the tools, the live tree, the session
store and the usage roll-up.  The script is announced as a script.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

DEMO_MODEL = "talaria-demo-scripted"

# (goal, tool name, arguments) — what each scripted subagent does with its one tool call.
TASKS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "Count the Python modules in this interpreter's standard library",
        "terminal",
        {
            "command": 'python3 -c "import sysconfig, pathlib; '
            "p = pathlib.Path(sysconfig.get_paths()['stdlib']); "
            "print(sum(1 for _ in p.rglob('*.py')), 'modules under', p)\""
        },
    ),
    (
        "Write the first 20 Fibonacci numbers to fib.txt",
        "write_file",
        {"path": "fib.txt", "content": ""},  # filled below
    ),
    (
        "Find the largest prime below 10,000",
        "terminal",
        {
            "command": 'python3 -c "n = next(k for k in range(9999, 1, -1) '
            "if all(k % d for d in range(2, int(k ** 0.5) + 1))); print('largest prime:', n)\""
        },
    ),
    (
        "Describe this machine: kernel, CPU count and Python version",
        "terminal",
        {"command": 'echo "$(uname -sr), $(nproc) CPUs, $(python3 --version)"'},
    ),
    (
        "Make a release checklist",
        "todo",
        {
            "todos": [
                {"id": "1", "content": "Run the test suite", "status": "completed"},
                {"id": "2", "content": "Update the changelog", "status": "in_progress"},
                {"id": "3", "content": "Tag the release", "status": "pending"},
            ]
        },
    ),
    (
        "List the files the other subagents created in the workspace",
        "terminal",
        {"command": "sleep 1; ls -1 | sort"},
    ),
]


def _fib(n: int) -> str:
    a, b, out = 0, 1, []
    for _ in range(n):
        out.append(str(a))
        a, b = b, a + b
    return "\n".join(out) + "\n"


def _script(latency: float, rng: Any) -> Any:
    import json

    from talaria.testing.replies import RecordedRequest, Reply

    tasks = [
        (goal, name, {**args, "content": _fib(20)} if name == "write_file" else args)
        for goal, name, args in TASKS
    ]
    by_goal = {goal: (name, args) for goal, name, args in tasks}

    def handler(req: RecordedRequest) -> Reply:
        first = str(req.messages[0].get("content", "")) if req.messages else ""
        tool_msgs = [str(m.get("content")) for m in req.messages if m.get("role") == "tool"]
        pause = latency * rng.uniform(0.6, 1.4)
        if first.startswith("You are a subagent"):
            goal = req.last_user_text
            if not tool_msgs:
                name, args = by_goal[goal]
                return Reply.call(name, args, latency=pause)
            first_line = tool_msgs[-1].strip().splitlines()[0] if tool_msgs[-1].strip() else "ok"
            return Reply.say(
                f"Done: {goal.lower()}. Result: {first_line[:160]}", latency=pause, chunks=4
            )
        if not tool_msgs:
            return Reply.calls(
                [("delegate_task", {"tasks": [{"goal": g} for g, _, _ in tasks]})],
                text="I'll split this into six independent tasks and run them in parallel.\n",
            )
        results = json.loads(tool_msgs[-1]).get("results", [])
        lines = ["All six subagents reported back:"]
        for r in results:
            outcome = r.get("summary") or r.get("error") or ""
            lines.append(f"- [{r['status']}] {outcome}")
        return Reply.say("\n".join(lines), chunks=8)

    return handler


def main(args: argparse.Namespace) -> int:
    from talaria import concurrency
    from talaria.config import load_settings
    from talaria.errors import ConfigError

    try:
        base = load_settings()
    except ConfigError as e:
        print(f"talaria: configuration error: {e}", file=sys.stderr)
        return 2
    return concurrency.run_main(_demo(base, args))


async def _demo(base: Any, args: argparse.Namespace) -> int:
    import random
    import tempfile
    from pathlib import Path

    from talaria.agent.agent import Agent
    from talaria.cli.run_cmd import exit_code, run_rendered
    from talaria.config import load_settings
    from talaria.runtime import Runtime
    from talaria.testing.fake_server import FakeLLMServer

    out = sys.stderr
    print(
        "talaria demo — the model here is SCRIPTED (a loopback fake server that speaks the "
        "OpenAI wire format).\nEverything else is real: delegation, tools, the live tree, "
        "the session store and usage accounting.\n",
        file=out,
    )
    workspace = Path(tempfile.mkdtemp(prefix="talaria-demo-"))
    server = await FakeLLMServer(_script(args.latency, random.Random(7))).astart()
    runtime = Runtime()
    try:
        settings = load_settings(
            env={"TALARIA_HOME": str(base.paths.home)},
            overrides={
                "model.provider": "custom",
                "model.base_url": server.base_url,
                "model.name": DEMO_MODEL,
                "toolsets": ["terminal", "file", "todo", "delegation"],
                "delegation.max_concurrent_children": 6,
            },
        )
        agent = Agent(settings, runtime=runtime, source="cli", cwd=workspace)
        result = await run_rendered(
            runtime,
            agent,
            "Show what you can do: split a handful of small jobs across subagents.",
        )
    finally:
        await runtime.aclose()
        await server.astop()
    children = result.extra.get("children", [])
    u = result.usage
    cost = "n/a (scripted model)" if u.cost_usd is None else f"${u.cost_usd:.4f}"
    print(
        f"\nstatus: {result.status}   children: {len(children)}   "
        f"tokens: {u.input_tokens} in / {u.output_tokens} out (all agents)   cost: {cost}",
        file=out,
    )
    print(f"workspace: {workspace}", file=out)
    if result.session_id:
        print(
            f"session:   {result.session_id} in {settings.paths.state_db}\n"
            f"           see it with: talaria sessions show {result.session_id[:8]}",
            file=out,
        )
    print(
        "\nNext: use a real model, e.g.\n"
        "  export OPENROUTER_API_KEY=sk-or-...        (or: talaria config set model.api_key ...)\n"
        '  talaria run "summarise this repository" -t terminal,file,delegation\n'
        "  or any OpenAI-compatible server: --provider custom --base-url http://host:port/v1",
        file=out,
    )
    return exit_code(result)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="watch a parent agent fan out to six subagents (scripted model, no key needed)",
    )
    p.add_argument(
        "--latency", type=float, default=0.8, help="seconds per scripted model reply (default 0.8)"
    )
    p.set_defaults(handler="talaria.cli.demo_cmd:main")
