"""The typed event stream every run emits.

Agents never write to stdout and never take callbacks: they emit these events and
exactly one renderer consumes them.  ``path`` locates the emitting agent in the
run tree (``()`` for the root, ``(1, 3)`` for the third child of the first
child), so a renderer can draw concurrent subagents without them touching any
shared output.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from talaria.types import RunResult, Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted:
    run_id: str
    model: str
    provider: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta:
    text: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasoningDelta:
    text: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRequestStarted:
    iteration: int
    model: str
    provider: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelResponded:
    iteration: int
    usage: Usage
    finish_reason: str | None
    tool_calls: int
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolStarted:
    call_id: str
    name: str
    arguments: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolFinished:
    call_id: str
    name: str
    is_error: bool
    duration_s: float
    preview: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """Something the user should know that is not part of the answer (retries, fallbacks)."""

    level: Literal["info", "warning", "error"]
    message: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildQueued:
    """A subagent task was accepted; it waits for a free slot (``path`` is the child's)."""

    task_index: int
    goal: str
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildStarted:
    task_index: int
    goal: str
    model: str
    session_id: str | None
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildFinished:
    task_index: int
    status: str
    duration_s: float
    usage: Usage
    error: str | None
    path: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished:
    result: RunResult
    path: tuple[int, ...] = ()


Event = (
    RunStarted
    | TextDelta
    | ReasoningDelta
    | ModelRequestStarted
    | ModelResponded
    | ToolStarted
    | ToolFinished
    | Notice
    | ChildQueued
    | ChildStarted
    | ChildFinished
    | RunFinished
)


class EventSink(Protocol):
    """Where a run sends its events.  ``emit`` must never block or raise."""

    def emit(self, event: Event) -> None: ...


class NullSink:
    def emit(self, event: Event) -> None:
        pass


class PrefixedSink:
    """Forwards events to ``parent`` with ``prefix`` prepended to their tree path."""

    def __init__(self, parent: EventSink, prefix: tuple[int, ...]) -> None:
        self._parent = parent
        self._prefix = prefix

    def emit(self, event: Event) -> None:
        self._parent.emit(dataclasses.replace(event, path=self._prefix + event.path))
