"""Event delivery from runs to the one renderer that consumes them.

An ``EventStream`` is an unbounded queue on the loop: ``emit`` never blocks and
never fails, so a slow renderer can never stall an agent, and agents never
call into renderer code.  A child agent gets a ``PrefixedSink`` that stamps its
tree path on every event before forwarding to its parent's stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from talaria.events import Event, EventSink, NullSink, PrefixedSink

__all__ = ["EventSink", "EventStream", "NullSink", "PrefixedSink"]


class EventStream:
    """Single-consumer async stream of events; ``close()`` ends iteration."""

    _END = object()

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def emit(self, event: Event) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(self._END)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if item is self._END:
                return
            yield item  # type: ignore[misc]
