"""Scripting parents and children for delegation tests through one fake server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from talaria.agent.agent import Agent
from talaria.config import Settings
from talaria.runtime import Runtime
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply

CHILD_MARK = "You are a subagent"


def is_child(req: RecordedRequest) -> bool:
    first = req.messages[0] if req.messages else {}
    return str(first.get("content", "")).startswith(CHILD_MARK)


def tool_results(req: RecordedRequest) -> list[str]:
    return [str(m.get("content")) for m in req.messages if m.get("role") == "tool"]


def delegate_results(req: RecordedRequest) -> list[dict[str, Any]]:
    """The ``results`` of the last delegate_task result in the request."""
    for content in reversed(tool_results(req)):
        try:
            data = json.loads(content)
        except ValueError:
            continue
        if isinstance(data, dict) and "results" in data:
            return list(data["results"])
    return []


def fan_out(
    tasks: list[dict[str, Any]],
    child: Callable[[RecordedRequest], Reply],
    final: Callable[[RecordedRequest], Reply] | None = None,
) -> Callable[[RecordedRequest], Reply]:
    """Parent delegates ``tasks`` once, then answers with ``final`` (default: a summary)."""

    def handler(req: RecordedRequest) -> Reply:
        if is_child(req):
            return child(req)
        if not tool_results(req):
            return Reply.call("delegate_task", {"tasks": tasks})
        if final is not None:
            return final(req)
        statuses = [r["status"] for r in delegate_results(req)]
        return Reply.say("parent done: " + ",".join(statuses))

    return handler


def delegating_agent(
    tmp_path: Path, server: FakeLLMServer, runtime: Runtime | None = None, **config: Any
) -> Agent:
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    overrides = {
        "model.provider": "custom",
        "model.base_url": server.base_url,
        "model.name": "parent-model",
        "toolsets": ["terminal", "file", "todo", "delegation"],
        **config,
    }
    settings = Settings.for_home(tmp_path / "home", **overrides)
    return Agent(settings, runtime=runtime, cwd=work)
