"""``SqliteStore``: the session store on one SQLite file, safe from any thread and process.

Writes go to the store's writer thread (``store/writer.py``) and complete after
COMMIT; the blocking forms wait on a ``concurrent.futures.Future`` and the
``a``-forms await the same future through ``asyncio.wrap_future``, so the event
loop never blocks on SQLite.  Reads run on a per-thread read-only connection:
WAL lets them proceed while the writer (or another process) writes, and they
are cheap enough to call directly from threads; async code calls them through
``concurrency.to_thread``.

Building a store opens the file, applies migrations and marks sessions of dead
processes ``orphaned``; that blocks, so async code constructs it in a thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from talaria.concurrency import to_thread
from talaria.store import ops
from talaria.store.base import (
    AmbiguousSessionId,
    AuxUsage,
    NewSession,
    SearchHit,
    SessionEnd,
    SessionNotFound,
    SessionRecord,
    StoredMessage,
    StoreError,
    StoreStats,
)
from talaria.store.liveness import current_process
from talaria.store.rows import (
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
    Redact,
    message_from_row,
    message_row,
    redact_text,
    redacted_session,
    session_from_row,
)
from talaria.store.search import search as _search
from talaria.store.writeop import WriterCounters
from talaria.store.writer import Writer
from talaria.types import Message, Usage

if TYPE_CHECKING:
    from talaria.config import Settings

T = TypeVar("T")
_MIN_PREFIX = 4
_SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM sessions"


class _Reader:
    """Holds one thread's read connection; collected (and closed) with the thread."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn


class SqliteStore:
    """The SQLite ``SessionStore``.  See ``store/base.py`` for the contract."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["normal", "full"] = "normal",
        busy_budget: float = 30.0,
        redact: Redact | None = None,
    ) -> None:
        self.path = Path(path)
        self._redact = redact
        self._busy_ms = max(int(busy_budget * 1000), 1)
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._closed = False
        self._writer = Writer(
            self.path, synchronous=synchronous, busy_budget=busy_budget, ident=current_process()
        )

    @classmethod
    def open(cls, settings: Settings, redact: Redact | None = None) -> SqliteStore:
        """The store at ``$TALARIA_HOME/state.db`` configured by ``settings.store``."""
        settings.paths.ensure_home()
        cfg = settings.config.store
        return cls(
            settings.paths.state_db,
            synchronous=cfg.synchronous,
            busy_budget=cfg.busy_budget,
            redact=redact,
        )

    # -- writes ------------------------------------------------------------------------
    def _call(self, fn: Callable[..., T] | None, *args: Any) -> T:
        result: T = self._writer.submit(fn, args).wait()
        return result

    async def _acall(self, fn: Callable[..., T] | None, *args: Any) -> T:
        op = self._writer.submit(fn, args, future=True)
        assert op.future is not None
        result: T = await asyncio.wrap_future(op.future)
        return result

    def _append_args(
        self, session_id: str, message: Message, token_count: int | None
    ) -> tuple[Any, ...]:
        return (
            session_id,
            message_row(message, token_count, self._redact),
            len(message.tool_calls),
        )

    def create_session(self, new: NewSession) -> SessionRecord:
        return self._call(ops.create_session, redacted_session(new, self._redact))

    def append_message(
        self, session_id: str, message: Message, *, token_count: int | None = None
    ) -> int:
        return self._call(None, *self._append_args(session_id, message, token_count))

    def end_session(self, session_id: str, end: SessionEnd) -> None:
        self._call(ops.end_session, session_id, end, redact_text(self._redact, end.end_reason))

    def add_usage(self, session_id: str, usage: Usage, *, api_calls: int = 0) -> None:
        self._call(ops.add_usage, session_id, usage, api_calls)

    def reopen_session(self, session_id: str) -> SessionRecord:
        return self._call(ops.reopen_session, session_id)

    def rename(self, session_id: str, title: str | None) -> None:
        self._call(ops.rename, session_id, redact_text(self._redact, title))

    def delete(self, session_id: str) -> int:
        return self._call(ops.delete, session_id)

    def prune(self, older_than_days: float) -> int:
        return self._call(ops.prune, older_than_days)

    async def acreate_session(self, new: NewSession) -> SessionRecord:
        return await self._acall(ops.create_session, redacted_session(new, self._redact))

    async def aappend_message(
        self, session_id: str, message: Message, *, token_count: int | None = None
    ) -> int:
        return await self._acall(None, *self._append_args(session_id, message, token_count))

    async def aend_session(self, session_id: str, end: SessionEnd) -> None:
        reason = redact_text(self._redact, end.end_reason)
        await self._acall(ops.end_session, session_id, end, reason)

    async def aadd_usage(self, session_id: str, usage: Usage, *, api_calls: int = 0) -> None:
        await self._acall(ops.add_usage, session_id, usage, api_calls)

    def add_aux_usage(self, session_id: str, task: str, usage: Usage) -> None:
        self._call(ops.add_aux_usage, session_id, task, usage)

    async def aadd_aux_usage(self, session_id: str, task: str, usage: Usage) -> None:
        await self._acall(ops.add_aux_usage, session_id, task, usage)

    def aux_usage(self, session_id: str) -> dict[str, AuxUsage]:
        rows = self._rows(
            "SELECT task, calls, input_tokens, output_tokens, cost_usd FROM aux_usage"
            " WHERE session_id = ? ORDER BY task",
            (session_id,),
        )
        return {
            task: AuxUsage(task=task, calls=calls, usage=Usage(i, o, cost_usd=c))
            for task, calls, i, o, c in rows
        }

    async def areopen_session(self, session_id: str) -> SessionRecord:
        return await self._acall(ops.reopen_session, session_id)

    # -- reads -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is not None:
            return reader.conn
        if self._closed:
            raise StoreError(f"the session store {self.path} is closed")
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_ms / 1000
        )
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA cache_size = -16000")
        reader = _Reader(conn)
        with self._readers_lock:
            self._readers.add(reader)
        self._local.reader = reader
        return conn

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except (sqlite3.Error, sqlite3.ProgrammingError) as exc:
            raise self._read_error(exc) from exc

    def _read_error(self, exc: Exception) -> StoreError:
        if self._closed:
            return StoreError(f"the session store {self.path} is closed")
        return StoreError(f"{self.path}: read failed: {exc}")

    def get_session(self, session_id: str) -> SessionRecord:
        rows = self._rows(f"{_SELECT_SESSION} WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFound(f"no session {session_id!r}")
        return session_from_row(rows[0])

    def resolve(self, id_or_prefix_or_title: str) -> SessionRecord:
        key = id_or_prefix_or_title.strip()
        rows = self._rows(f"{_SELECT_SESSION} WHERE id = ? OR title = ?", (key, key))
        exact = [r for r in rows if r[0] == key] or rows
        if exact:
            return session_from_row(exact[0])
        if len(key) >= _MIN_PREFIX:
            low = key.lower()
            rows = self._rows(
                f"{_SELECT_SESSION} WHERE id >= ? AND id < ? ORDER BY started_at DESC LIMIT 11",
                (low, low + "\U0010ffff"),
            )
            if len(rows) == 1:
                return session_from_row(rows[0])
            if rows:
                listed = ", ".join(f"{r[0]} ({r[7] or r[4]})" for r in rows[:10])
                more = " …" if len(rows) > 10 else ""
                raise AmbiguousSessionId(f"{key!r} matches several sessions: {listed}{more}")
        hint = "" if len(key) >= _MIN_PREFIX else f" (id prefixes need {_MIN_PREFIX}+ characters)"
        raise SessionNotFound(f"no session with id, id prefix or title {key!r}{hint}")

    def latest(self, *, source: str | None = None) -> SessionRecord | None:
        where, params = ("WHERE source = ?", (source,)) if source else ("", ())
        rows = self._rows(f"{_SELECT_SESSION} {where} ORDER BY started_at DESC LIMIT 1", params)
        return session_from_row(rows[0]) if rows else None

    def list_sessions(
        self,
        *,
        source: str | None = None,
        status: str | None = None,
        parent_id: str | None = None,
        limit: int = 50,
    ) -> list[SessionRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("source", source), ("status", status), ("parent_id", parent_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(limit, 0))
        sql = f"{_SELECT_SESSION} {where} ORDER BY started_at DESC, id LIMIT ?"
        return [session_from_row(r) for r in self._rows(sql, tuple(params))]

    def messages(self, session_id: str) -> list[StoredMessage]:
        self.get_session(session_id)
        rows = self._rows(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? ORDER BY seq",
            (session_id,),
        )
        return [message_from_row(r) for r in rows]

    def previews(self, session_ids: Sequence[str], length: int = 80) -> dict[str, str]:
        """The start of each session's first user message (for untitled sessions in lists)."""
        if not session_ids:
            return {}
        marks = ", ".join("?" * len(session_ids))
        rows = self._rows(
            "SELECT m.session_id, substr(ltrim(m.content), 1, ?) FROM messages m"
            f" WHERE m.session_id IN ({marks}) AND m.role = 'user' AND m.seq = ("
            " SELECT min(seq) FROM messages f WHERE f.session_id = m.session_id"
            " AND f.role = 'user')",
            (length, *session_ids),
        )
        return {sid: " ".join((text or "").split()) for sid, text in rows}

    def lineage(self, session_id: str) -> list[SessionRecord]:
        rows = self._rows(
            "WITH RECURSIVE up(id, n) AS (SELECT ?, 0 UNION ALL"
            " SELECT s.parent_id, up.n + 1 FROM sessions s JOIN up ON s.id = up.id"
            " WHERE s.parent_id IS NOT NULL)"
            f" SELECT {', '.join('s.' + c.strip() for c in SESSION_COLUMNS.split(','))}"
            " FROM up JOIN sessions s ON s.id = up.id ORDER BY up.n DESC",
            (session_id,),
        )
        if not rows:
            raise SessionNotFound(f"no session {session_id!r}")
        return [session_from_row(r) for r in rows]

    def children(self, session_id: str) -> list[SessionRecord]:
        rows = self._rows(
            f"{_SELECT_SESSION} WHERE parent_id = ? ORDER BY started_at, id", (session_id,)
        )
        return [session_from_row(r) for r in rows]

    def search(
        self, query: str, *, limit: int = 20, exclude_session: str | None = None
    ) -> list[SearchHit]:
        try:
            return _search(self._conn(), query, limit=limit, exclude_session=exclude_session)
        except (sqlite3.Error, sqlite3.ProgrammingError) as exc:
            raise self._read_error(exc) from exc

    def stats(self) -> StoreStats:
        sessions = self._rows("SELECT status, source, count(*) FROM sessions GROUP BY 1, 2")
        by_status: dict[str, int] = {}
        by_source: dict[str, int] = {}
        for status, source, n in sessions:
            by_status[status] = by_status.get(status, 0) + n
            by_source[source] = by_source.get(source, 0) + n
        messages = self._rows("SELECT count(*) FROM messages")[0][0]
        return StoreStats(
            sessions=sum(by_status.values()),
            messages=messages,
            by_status=by_status,
            by_source=by_source,
            db_bytes=_size(self.path),
            wal_bytes=_size(Path(f"{self.path}-wal")),
            path=str(self.path),
        )

    @property
    def counters(self) -> WriterCounters:
        """Writer diagnostics: batches vs operations (group commit), indexing, checkpoints."""
        return self._writer.counters

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Flush everything queued, index it, checkpoint, close.  Idempotent; blocks."""
        self._writer.close()
        self._closed = True
        with self._readers_lock:
            readers = list(self._readers)
            self._readers.clear()
        for reader in readers:
            reader.conn.close()

    async def aclose(self) -> None:
        await to_thread(self.close)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def open_store(settings: Settings, redact: Redact | None = None) -> SqliteStore:
    """The configured store (``SqliteStore.open``), for callers that prefer a function."""
    return SqliteStore.open(settings, redact)
