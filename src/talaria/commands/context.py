"""What a command may see and do: implemented by the REPL (and later each gateway).

Handlers in :mod:`talaria.commands.builtins` only call these methods, which is
what lets one registry serve every surface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from talaria.commands.registry import Surface


@dataclass(frozen=True, slots=True)
class ExecEnvironment:
    """Where and how quick ``exec`` commands run."""

    cwd: Path
    env: Mapping[str, str]
    redact: Callable[[str], str]
    shell: str = "/bin/bash"
    passthrough: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ContextReport:
    """What is in the model's window right now."""

    model: str
    system_prompt_tokens: int
    messages: int
    tokens: int
    window: int | None

    @property
    def percent(self) -> float | None:
        return None if not self.window else 100.0 * self.tokens / self.window


class CommandContext(Protocol):
    @property
    def surface(self) -> Surface: ...

    @property
    def busy(self) -> bool:
        """True while a turn is running."""
        ...

    # -- reports ---------------------------------------------------------------------
    def model_label(self) -> str: ...
    def provider_report(self) -> str: ...
    def context_report(self) -> ContextReport: ...
    async def usage_report(self) -> str: ...
    def tool_report(self) -> Sequence[tuple[str, str, str]]:
        """(tool name, toolset, one-line description) of the tools the agent has."""
        ...

    def toolset_report(self) -> Sequence[tuple[str, bool]]:
        """(toolset, enabled) for every known toolset."""
        ...

    async def sessions_report(self, limit: int) -> str: ...
    def exec_environment(self) -> ExecEnvironment: ...

    async def agents_report(self) -> str: ...

    # -- actions ---------------------------------------------------------------------
    async def new_session(self) -> str: ...
    async def set_model(self, name: str) -> str: ...
    async def resume(self, ident: str) -> str: ...
    async def set_title(self, title: str) -> str: ...
    async def retry(self) -> str: ...
    async def undo(self) -> str: ...
    async def stop(self) -> str: ...
    async def quit(self) -> str: ...
    async def compress(self) -> str: ...
