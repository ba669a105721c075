"""What a test double has seen: a thread-safe request log and in-flight counters.

Written by the double's event loop thread, read by test threads (sync tests,
threads hammering a facade, async tests on another loop).  One condition
variable guards everything so a waiter is woken by every change instead of
polling with sleeps, which is how tests wait for "no request in flight".
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from talaria.testing.replies import RecordedRequest

__all__ = ["RequestLog"]

_RECHECK = 0.05  # wake waiters at least this often, for predicates on outside state


class RequestLog:
    """Requests in arrival order plus in-flight, completed and cancelled counts."""

    def __init__(self) -> None:
        self._cond = threading.Condition()  # reentrant: predicates may read properties
        self._log: dict[int, RecordedRequest] = {}
        self._next_index = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._completed = 0
        self._cancelled = 0

    def begin(
        self,
        *,
        path: str,
        method: str,
        headers: dict[str, str],
        body: dict[str, Any],
    ) -> RecordedRequest:
        """Record a request that has just fully arrived; it is in flight until :meth:`finish`."""
        messages, tools = body.get("messages"), body.get("tools")
        with self._cond:
            record = RecordedRequest(
                index=self._next_index,
                path=path,
                method=method,
                headers=headers,
                body=body,
                model=str(body.get("model") or ""),
                stream=bool(body.get("stream")),
                messages=messages if isinstance(messages, list) else [],
                tools=tools if isinstance(tools, list) else [],
                started_at=time.monotonic(),
            )
            self._next_index += 1
            self._log[record.index] = record
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._cond.notify_all()
        return record

    def finish(self, record: RecordedRequest, *, cancelled: bool) -> RecordedRequest:
        """Mark ``record`` answered (or abandoned by its client) and return the final entry."""
        done = dataclasses.replace(record, finished_at=time.monotonic(), cancelled=cancelled)
        with self._cond:
            self._in_flight -= 1
            if cancelled:
                self._cancelled += 1
            else:
                self._completed += 1
            if record.index in self._log:  # else forgotten by reset() meanwhile
                self._log[record.index] = done
            self._cond.notify_all()
        return done

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot, oldest first."""
        with self._cond:
            return list(self._log.values())

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """High-water mark of :attr:`in_flight` since creation or :meth:`reset`."""
        with self._cond:
            return self._max_in_flight

    @property
    def completed(self) -> int:
        with self._cond:
            return self._completed

    @property
    def cancelled(self) -> int:
        with self._cond:
            return self._cancelled

    def reset(self) -> None:
        """Forget finished requests and zero the counts; in-flight requests stay tracked.

        Their completion is counted after the reset, so a test can reset between
        phases without racing requests that are still being answered.
        """
        with self._cond:
            self._log = {i: r for i, r in self._log.items() if r.finished_at is None}
            self._completed = self._cancelled = 0
            self._max_in_flight = self._in_flight
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds; ``False`` once ``timeout`` seconds pass.

        Woken by every change recorded here, and re-checked at least every
        50 ms in case the predicate also looks at state outside this log.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, _RECHECK))
            return True
