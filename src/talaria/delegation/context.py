"""What a delegating agent shares with the children it spawns.

One ``DelegationContext`` per agent that may delegate, owned by that agent's
run.  Nothing here is global: two runs in one process have two trees, and
the only thing shared across a tree is its ``Limiter``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talaria.concurrency import Limiter, Slot
from talaria.events import Event, EventSink
from talaria.types import Usage

if TYPE_CHECKING:
    from talaria.agent.recorder import Recorder
    from talaria.config import Settings
    from talaria.providers.base import Provider
    from talaria.runtime import Runtime


@dataclass
class DelegationContext:
    runtime: Runtime
    settings: Settings
    depth: int
    """Depth of the agent owning this context (root = 0)."""
    path: tuple[int, ...]
    sink: EventSink
    limiter: Limiter
    toolsets: tuple[str, ...]
    provider: Provider
    record: bool = True
    recorder: Recorder | None = None
    """The owner's recorder: child sessions hang below its session, usage rolls up into it."""
    slot: Slot | None = None
    """The limiter slot the owner runs in (None for the root); lent back while it waits."""
    children: list[dict[str, Any]] = field(default_factory=list)
    """Result entries of every child this agent spawned, in completion order."""
    children_usage: Usage = field(default_factory=Usage)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_number(self) -> int:
        """The next child's number under this agent (its path is ``path + (n,)``)."""
        return next(self._numbers)

    @property
    def session_id(self) -> str | None:
        return self.recorder.session_id if self.recorder is not None else None


class ProgressSink:
    """Forwards a child's events (path-prefixed) and remembers when it last made progress,
    so the idle watchdog can tell a slow child from a stuck one."""

    def __init__(self, parent: EventSink, prefix: tuple[int, ...]) -> None:
        from talaria.events import PrefixedSink

        self._inner = PrefixedSink(parent, prefix)
        self.last_progress = time.monotonic()
        self.current_tool: str | None = None

    def emit(self, event: Event) -> None:
        self.last_progress = time.monotonic()
        self._inner.emit(event)
