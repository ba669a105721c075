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
        self.aux_totals: dict[str, tuple[int, Usage]] = {}
        """Side-task calls and usage recorded during this run, by task."""

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

    async def add_aux_usage(self, task: str, usage: Usage) -> None:
        """Account a side-task call to this session, apart from the main model's usage."""
        calls, total = self.aux_totals.get(task, (0, Usage()))
        self.aux_totals[task] = (calls + 1, total + usage)
        store, sid = self._store, self.session_id
        if store is None or sid is None or self.failed:
            return
        try:
            await store.aadd_aux_usage(sid, task, usage)
        except (StoreError, OSError) as e:
            self._fail(e)

    async def split(self, messages: Sequence[Message], *, reason: str) -> None:
        """End the current session with ``reason`` and continue in a new one.

        Used by compression: the new session's ``parent_id`` is the old one and its
        title gets " #2", " #3"…, so ``talaria sessions show`` shows the lineage; it
        starts with the compressed transcript.
        """
        store, old = self._store, self.session_id
        if store is None or old is None or self.failed:
            return
        try:
            await concurrency.shielded(self._split(store, old, messages, reason))
        except (StoreError, OSError) as e:
            self._fail(e)

    async def _split(
        self, store: SessionStore, old: str, messages: Sequence[Message], reason: str
    ) -> None:
        rec = await concurrency.to_thread(store.get_session, old)
        await store.aend_session(old, SessionEnd(status="completed", end_reason=reason))
        base, number = _title_parts(rec.title)
        for attempt in range(50):
            title = f"{base} #{number + attempt}" if base else None
            try:
                new = await store.acreate_session(
                    NewSession(
                        source=rec.source,
                        model=rec.model,
                        provider=rec.provider,
                        system_prompt=rec.system_prompt,
                        parent_id=old,
                        title=title,
                        goal=rec.goal,
                        user_id=rec.user_id,
                        chat_id=rec.chat_id,
                    )
                )
                break
            except StoreError:
                if title is None or attempt == 49:
                    raise
        self.session_id = new.id
        await self._append_all(store, new.id, messages)

    async def finish_open(self) -> None:
        """End the current session as ``completed`` outside a run (REPL ``/compress``):
        a session between turns is never left ``running``."""
        store, sid = self._store, self.session_id
        if store is None or sid is None:
            return
        try:
            await store.aend_session(sid, SessionEnd(status="completed"))
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


def _title_parts(title: str | None) -> tuple[str | None, int]:
    """``"Fix bug #3"`` → ``("Fix bug", 4)``; ``"Fix bug"`` → ``("Fix bug", 2)``."""
    if not title:
        return None, 2
    head, sep, tail = title.rpartition(" #")
    if sep and tail.isdigit():
        return head, int(tail) + 1
    return title, 2
