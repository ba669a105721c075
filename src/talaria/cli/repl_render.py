"""Rendering REPL turns: Markdown answers streamed live, a spinner while waiting.

Extends the one-shot renderer: tool lines and the subagent tree are shared.  On
a capable terminal the answer is re-rendered as Markdown while it streams and a
spinner shows only while nothing else is moving; elsewhere (pipes, NO_COLOR,
TERM=dumb) output is the plain streamed text.  No display here runs a refresh
thread: redraws happen on events and on the renderer's own tick task.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from talaria.cli.render import StreamRenderer
from talaria.events import (
    Event,
    ModelRequestStarted,
    ModelResponded,
    RunFinished,
    TextDelta,
    ToolStarted,
)

if TYPE_CHECKING:
    from rich.live import Live


class ReplRenderer(StreamRenderer):
    def __init__(self, out: TextIO, err: TextIO, *, fancy: bool) -> None:
        super().__init__(out, err)
        self.fancy = fancy
        self._text: list[str] = []
        self._live: Live | None = None
        self._spinner: Live | None = None
        self._last_draw = 0.0

    def handle(self, event: Event) -> None:
        if not self.fancy or event.path:
            super().handle(event)
            return
        if isinstance(event, ModelRequestStarted):
            self._start_spinner()
        elif isinstance(event, TextDelta):
            self._stop_spinner()
            self._text.append(event.text)
            self._draw_markdown(force=False)
            return
        elif isinstance(event, ModelResponded | ToolStarted | RunFinished):
            self._stop_spinner()
            self._finish_markdown()
            if isinstance(event, RunFinished):
                return
        super().handle(event)

    def tick(self) -> None:
        if self._spinner is not None:
            self._spinner.refresh()
        if self._live is not None:
            self._draw_markdown(force=True)

    async def _tick(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(0.1)
            self.tick()
            self.tree.tick()

    # -- spinner ----------------------------------------------------------------------
    def _start_spinner(self) -> None:
        if self._spinner is not None or self.tree.active:
            return
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        console = Console(file=self.err, stderr=True)
        self._spinner = Live(
            Spinner("dots", text=" thinking…", style="dim"),
            console=console,
            auto_refresh=False,
            transient=True,
        )
        self._spinner.start()

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    # -- markdown -------------------------------------------------------------------------
    def _draw_markdown(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.05 and self._live is not None:
            return
        self._last_draw = now
        from rich.markdown import Markdown

        body = Markdown("".join(self._text))
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.out)
            self._live = Live(
                body, console=console, auto_refresh=False, vertical_overflow="visible"
            )
            self._live.start()
        self._live.update(body, refresh=True)

    def _finish_markdown(self) -> None:
        if self._live is not None:
            self._draw_markdown(force=True)
            self._live.stop()
            self._live = None
        self._text = []

    def close(self) -> None:
        self._stop_spinner()
        self._finish_markdown()
