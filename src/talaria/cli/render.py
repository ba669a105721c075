"""Renderers for one-shot runs: the only code that writes the user's terminal.

``StreamRenderer`` prints answer text to stdout as it streams and compact tool
activity to stderr.  ``--json`` mode prints nothing on stdout until the end.
Writes survive a closed pipe (``talaria run … | head``) without a traceback.
"""

from __future__ import annotations

import asyncio
import os
from typing import TextIO

from talaria.agent.stream import EventStream
from talaria.events import (
    Event,
    ModelRequestStarted,
    ModelResponded,
    Notice,
    ReasoningDelta,
    RunFinished,
    TextDelta,
    ToolFinished,
    ToolStarted,
)
from talaria.textutil import one_line


def _live_ok(stream: TextIO) -> bool:
    """A live (redrawn) display needs a real terminal that understands cursor movement."""
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _colour_ok(stream: TextIO, env: dict[str, str] | None = None) -> bool:
    env = env if env is not None else dict(os.environ)
    if "NO_COLOR" in env or env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class StreamRenderer:
    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        show_reasoning: bool = False,
        colour: bool | None = None,
    ) -> None:
        self.out = out
        self.err = err
        self.json_mode = json_mode
        self.quiet = quiet
        self.show_reasoning = show_reasoning
        self.colour = _colour_ok(err) if colour is None else colour
        self._out_mid_line = False
        self._pending_args: dict[str, str] = {}
        self.broken_pipe = False
        self._turn_streamed = False
        from talaria.cli.tree import ChildTree

        self.tree = ChildTree(err, live=_live_ok(err))

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text

    def _write_out(self, text: str) -> None:
        if self.broken_pipe or not text:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.broken_pipe = True
            return
        self._out_mid_line = not text.endswith("\n")

    def _write_err(self, line: str) -> None:
        if self._out_mid_line and not self.json_mode:
            self._write_out("\n")
        try:
            self.err.write(line + "\n")
            self.err.flush()
        except (BrokenPipeError, ValueError):
            pass

    def handle(self, event: Event) -> None:
        if event.path:  # subagent events: summarised by the tree view, not streamed
            if not self.quiet:
                if self._out_mid_line and not self.json_mode:
                    self._write_out("\n")
                self.tree.handle(event)
            return
        if isinstance(event, TextDelta):
            self._turn_streamed = True
            if not self.json_mode:
                self._write_out(event.text)
        elif isinstance(event, ReasoningDelta):
            if self.show_reasoning:
                self._write_err(self._dim(one_line(event.text, 400)))
        elif isinstance(event, ModelResponded):
            if event.tool_calls and self._out_mid_line:
                self._write_out("\n")
        elif isinstance(event, ToolStarted):
            self._pending_args[event.call_id] = event.arguments
        elif isinstance(event, ToolFinished):
            args = self._pending_args.pop(event.call_id, "")
            if not self.quiet:
                mark = "✗" if event.is_error else "✓"
                detail = f" — {one_line(event.preview, 100)}" if event.is_error else ""
                self._write_err(
                    self._dim(
                        f"  {mark} {event.name} {one_line(args, 80)} "
                        f"({event.duration_s:.2f}s){detail}"
                    )
                )
        elif isinstance(event, Notice):
            if not self.quiet or event.level == "error":
                self._write_err(f"talaria: {event.level}: {event.message}")
        elif isinstance(event, ModelRequestStarted):
            self._turn_streamed = False
        elif isinstance(event, RunFinished) and not self.json_mode:
            final = event.result.final
            if final and not self._turn_streamed:
                # The answer arrived without deltas (non-streaming server): print it whole.
                self._write_out(final)
            if self._out_mid_line:
                self._write_out("\n")

    async def consume(self, stream: EventStream) -> None:
        ticker = asyncio.ensure_future(self._tick())
        try:
            async for event in stream:
                self.handle(event)
        finally:
            ticker.cancel()
            self.close()
            self.tree.stop()

    def close(self) -> None:
        """Stop any display still drawing (subclasses add their own)."""

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.tree.tick()
