"""Persisting a run as it happens.

The session row is created before the first model call; every message is
appended when it joins the transcript (not at the end), so a crash loses at
most the message in flight; usage is added after each model call so running
sessions show live totals; and the terminal status is written on every exit
path, shielded from the cancellation that may be ending the run.

A store that fails (disk full, another process hogging the lock) does not kill
the user's run: the failure is reported once as an error notice and recording
stops, loudly, rather than half-silently.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from talaria import concurrency
from talaria.events import EventSink, Notice
from talaria.store.base import NewSession, SessionEnd, SessionStore, StoreError
from talaria.types import Message, RunResult, Usage

log = logging.getLogger(__name__)

StoreOpener = Callable[[], Awaitable[SessionStore]]


class Recorder:
    def __init__(
        self,
        opener: StoreOpener,
        new: NewSession,
        *,
        resume_id: str | None = None,
        already_stored: int = 0,
    ) -> None:
        """``already_stored``: how many leading messages of the initial transcript
        (the resumed history) are in the store already and must not be re-appended."""
        self._opener = opener
        self._new = new
        self._resume_id = resume_id
        self._already_stored = already_stored
        self._store: SessionStore | None = None
        self._sink: EventSink | None = None
        self.session_id: str | None = None
        self.failed = False

    async def start(self, initial: Sequence[Message], sink: EventSink) -> str | None:
        self._sink = sink
        try:
            store = await self._opener()
            if self._resume_id is not None:
                record = await store.areopen_session(self._resume_id)
            else:
                record = await store.acreate_session(self._new)
            self._store = store
            self.session_id = record.id
        except (StoreError, OSError) as e:
            self._fail(e)
            return None
        await self.append(initial[self._already_stored :])
        return self.session_id

    async def append(self, messages: Sequence[Message]) -> None:
        store, sid = self._store, self.session_id
        if store is None or sid is None or self.failed or not messages:
            return
        try:
            # Shielded: a message that joined the transcript reaches the store even if
            # an interrupt lands mid-write (a commit takes ~1 ms), so the stored
            # transcript never has a hole that would make it unresumable.
            await concurrency.shielded(self._append_all(store, sid, messages))
        except (StoreError, OSError) as e:
            self._fail(e)

    @staticmethod
    async def _append_all(store: SessionStore, sid: str, messages: Sequence[Message]) -> None:
        for m in messages:
            await store.aappend_message(sid, m)

    async def add_usage(self, usage: Usage, *, api_calls: int = 1) -> None:
        store, sid = self._store, self.session_id
        if store is None or sid is None or self.failed:
            return
        try:
            await store.aadd_usage(sid, usage, api_calls=api_calls)
        except (StoreError, OSError) as e:
            self._fail(e)

    async def finish(self, result: RunResult) -> None:
        """Write the terminal status (usage was already added call by call)."""
        store, sid = self._store, self.session_id
        if store is None or sid is None:
            return
        try:
            await store.aend_session(sid, SessionEnd(status=result.status, end_reason=result.error))
        except (StoreError, OSError) as e:
            self._fail(e)

    def _fail(self, e: BaseException) -> None:
        if self.failed:
            return
        self.failed = True
        log.error("session store failed: %s", e)
        if self._sink is not None:
            self._sink.emit(
                Notice(
                    level="error",
                    message=f"the session store failed ({e}); this run is no longer recorded",
                )
            )
