"""The live view of subagents on stderr: one line per child (state, current tool, elapsed).

On a terminal it is a ``rich`` live display, refreshed by the renderer on each
event and by a slow tick for the elapsed times (no refresh thread of rich's
own: threads are created only in ``talaria.concurrency``).  Elsewhere (pipes, CI
logs, ``TERM=dumb``) it prints one plain line when a child starts and one when it
finishes, so logs stay readable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from talaria.events import (
    ChildFinished,
    ChildQueued,
    ChildStarted,
    Event,
    ToolFinished,
    ToolStarted,
)
from talaria.textutil import one_line

if TYPE_CHECKING:
    from rich.live import Live

_MARK = {
    "queued": "·",
    "running": "▸",
    "completed": "✓",
    "failed": "✗",
    "interrupted": "■",
    "timed_out": "⏱",
    "max_iterations": "…",
}


@dataclass
class ChildLine:
    path: tuple[int, ...]
    goal: str
    state: str = "queued"
    tool: str | None = None
    started: float | None = None
    ended: float | None = None
    tokens: int = 0
    error: str | None = None
    calls: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ".".join(map(str, self.path))

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or now) - self.started

    def text(self, now: float) -> str:
        indent = "  " * (len(self.path) - 1)
        mark = _MARK.get(self.state, "?")
        doing = self.tool or ("" if self.state != "running" else "thinking")
        extra = f" — {one_line(self.error, 60)}" if self.error and self.state != "completed" else ""
        return (
            f"{indent}{mark} {self.label:<6} {self.state:<12} {doing:<14} "
            f"{self.elapsed(now):6.1f}s  {one_line(self.goal, 60)}{extra}"
        )


class ChildTree:
    def __init__(self, err: TextIO, *, live: bool) -> None:
        self.err = err
        self.use_live = live
        self.lines: dict[tuple[int, ...], ChildLine] = {}
        self._live: Live | None = None

    @property
    def active(self) -> bool:
        return any(c.state in ("queued", "running") for c in self.lines.values())

    def handle(self, event: Event) -> bool:
        """Update from ``event``; returns True when the event concerned subagents."""
        now = time.monotonic()
        if isinstance(event, ChildQueued):
            self.lines[event.path] = ChildLine(event.path, event.goal)
        elif isinstance(event, ChildStarted):
            line = self.lines.setdefault(event.path, ChildLine(event.path, event.goal))
            line.state, line.started = "running", now
            if not self.use_live:
                self._print(f"  ↳ [{line.label}] started: {one_line(line.goal, 90)}")
        elif isinstance(event, ChildFinished):
            line = self.lines.setdefault(event.path, ChildLine(event.path, ""))
            line.state, line.ended, line.tool = event.status, now, None
            line.started = line.started or now - event.duration_s
            line.error = event.error
            line.tokens = event.usage.total_tokens
            if not self.use_live:
                why = (
                    f": {one_line(event.error, 100)}"
                    if event.error and event.status != "completed"
                    else ""
                )
                self._print(
                    f"  ↳ [{line.label}] {event.status} in {event.duration_s:.1f}s "
                    f"({line.tokens} tokens){why}"
                )
        elif isinstance(event, ToolStarted | ToolFinished) and event.path in self.lines:
            line = self.lines[event.path]
            if isinstance(event, ToolStarted):
                line.calls[event.call_id] = event.name
                line.tool = event.name
            else:
                line.calls.pop(event.call_id, None)
                line.tool = next(iter(line.calls.values()), None)
        else:
            return False
        if self.use_live:
            self._refresh()
        return True

    def tick(self) -> None:
        """Refresh elapsed times (called periodically while children run)."""
        if self._live is not None:
            self._refresh()

    def _render(self) -> Any:
        from rich.text import Text

        now = time.monotonic()
        return Text(
            "\n".join(c.text(now) for c in sorted(self.lines.values(), key=lambda c: c.path))
        )

    def _refresh(self) -> None:
        if self._live is None:
            if not self.active:
                return
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.err, stderr=True)
            self._live = Live(self._render(), console=console, auto_refresh=False, transient=False)
            self._live.start()
        self._live.update(self._render(), refresh=True)
        if not self.active:
            self.stop()

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.stop()
            self._live = None

    def _print(self, line: str) -> None:
        try:
            self.err.write(line + "\n")
            self.err.flush()
        except (BrokenPipeError, ValueError):
            pass
