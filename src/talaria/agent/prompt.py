"""System prompt assembly."""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Iterable
from pathlib import Path

IDENTITY = (
    "You are Talaria, a capable, careful assistant that gets real work done with tools. "
    "Work step by step: inspect before you change, verify after you change, and prefer "
    "small, checkable actions. When you are done, give a concise final answer that says "
    "what you did and what you found. If something failed or you could not finish, say so "
    "plainly; never claim work you did not do."
)

TOOL_GUIDANCE = (
    "You can call tools. Independent tool calls may be issued together in one turn and "
    "will run concurrently. Tool errors come back as results: read them and adapt. "
    "Shell commands run non-interactively with a timeout; never start commands that wait "
    "for input."
)


def build_system_prompt(
    *,
    cwd: Path,
    tool_names: Iterable[str],
    custom: str | None = None,
    now: _dt.datetime | None = None,
) -> str:
    """Identity (or the operator's ``agent.system_prompt``), environment, tool guidance."""
    names = sorted(tool_names)
    now = now or _dt.datetime.now().astimezone()
    parts = [custom.strip() if custom else IDENTITY]
    parts.append(
        "Environment:\n"
        f"- working directory: {cwd}\n"
        f"- date: {now:%Y-%m-%d %H:%M %Z}\n"
        f"- system: {platform.system()} {platform.machine()}"
    )
    if names:
        parts.append(TOOL_GUIDANCE + "\nAvailable tools: " + ", ".join(names) + ".")
    return "\n\n".join(parts)
