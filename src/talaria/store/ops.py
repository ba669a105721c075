"""The write operations, as run by the writer thread inside a write transaction.

Every function here takes the transaction state first and runs on the writer's
connection while it holds the database write lock (``BEGIN IMMEDIATE``).  That
is what makes sequence numbers safe against other processes: the next ``seq``
of a session is read *inside* the transaction that inserts it, and nobody else
can insert in between.

Appends are the hot path and are batched: ``Tx.append`` validates and numbers a
message and buffers its row; ``Tx.flush`` inserts every buffered row with one
``executemany`` and updates each touched session's counters once.  The writer
flushes before any other operation, so those always see the appends queued
before them.
"""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
import time
from typing import Any

from talaria.store.base import (
    TERMINAL_SESSION_STATUSES,
    NewSession,
    SessionEnd,
    SessionNotFound,
    SessionRecord,
    StoreError,
)
from talaria.store.liveness import ProcessIdent, process_is_gone
from talaria.store.rows import SESSION_COLUMNS, MessageRow, metadata_json, session_from_row
from talaria.types import Usage

# A batch's rows go in with multi-row statements (up to CHUNK rows each) rather
# than ``executemany``.  What that saves is not SQLite time but round trips: the
# sqlite3 module releases and re-takes the GIL around every step, and while the
# writer holds the database lock each re-take can queue behind calling threads.
# (A JSON parameter unpacked with ``json_each`` was tried: slower, since SQLite
# 3.40 re-parses the row for every ``->>``.)
CHUNK = 64
_MESSAGE_COLUMNS = (
    "session_id, seq, role, content, tool_calls, tool_call_id, tool_name, finish_reason,"
    " reasoning, token_count, created_at"
)


@functools.cache
def _insert_sql(n: int) -> str:
    row = "(" + ", ".join("?" * 11) + ")"
    return f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES " + ", ".join([row] * n)


@functools.cache
def _update_sql(n: int) -> str:
    return (
        "UPDATE sessions SET message_count = v.column2,"
        " tool_call_count = tool_call_count + v.column3,"
        " updated_at = max(updated_at, v.column4)"
        " FROM (VALUES " + ", ".join(["(?, ?, ?, ?)"] * n) + ") AS v"
        " WHERE sessions.id = v.column1"
    )


@functools.cache
def _last_seqs_sql(n: int) -> str:
    return (
        "SELECT s.id, (SELECT coalesce(max(m.seq), 0) FROM messages m"
        " WHERE m.session_id = s.id) FROM sessions s WHERE s.id IN (" + ", ".join("?" * n) + ")"
    )


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


_SUBTREE = (
    "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL"
    " SELECT s.id FROM sessions s JOIN sub ON s.parent_id = sub.id) SELECT id FROM sub"
)


class Tx:
    """The working state of one write transaction (its caches die with it).

    ``_next_seq`` maps a session id to its next sequence number, which also
    proves the session exists.  It is read inside the transaction, under the
    write lock, so no other process can insert in between: ``prefetch`` reads
    it for every session a batch appends to with one query.  (Keeping it across
    transactions, checked with ``PRAGMA data_version``, was measured: that
    check is a round trip too, and with other processes writing it always
    missed, so it was slower.)
    """

    __slots__ = ("_counts", "_next_seq", "_rows", "conn", "ident")

    def __init__(self, conn: sqlite3.Connection, ident: ProcessIdent) -> None:
        self.conn = conn
        self.ident = ident
        self._next_seq: dict[str, int] = {}
        self._rows: list[tuple[object, ...]] = []
        self._counts: dict[str, list[float]] = {}  # id -> [last seq, tool calls, last time]

    def prefetch(self, session_ids: set[str]) -> None:
        """Number the sessions a batch appends to, with one query for all of them."""
        missing = [sid for sid in session_ids if sid not in self._next_seq]
        for chunk in _chunks(missing):
            for sid, last in self.conn.execute(_last_seqs_sql(len(chunk)), chunk):
                self._next_seq[sid] = last + 1

    def append(self, session_id: str, row: MessageRow, n_calls: int) -> int:
        """Number and buffer one message; raises SessionNotFound for an unknown session."""
        seq = self._next_seq.get(session_id)
        if seq is None:
            found = self.conn.execute(
                "SELECT (SELECT coalesce(max(seq), 0) FROM messages WHERE session_id = ?1)"
                " FROM sessions WHERE id = ?1",
                (session_id,),
            ).fetchone()
            if found is None:
                raise SessionNotFound(f"no session {session_id!r}")
            seq = found[0] + 1
        self._next_seq[session_id] = seq + 1
        self._rows.append((session_id, seq, *row))
        counts = self._counts.get(session_id)
        if counts is None:
            self._counts[session_id] = [seq, n_calls, row[-1]]
        else:
            counts[0] = seq
            counts[1] += n_calls
            counts[2] = row[-1]
        return seq

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> None:
        if not self._rows:
            return
        conn = self.conn
        for rows in _chunks(self._rows):
            conn.execute(_insert_sql(len(rows)), [v for row in rows for v in row])
        counts = [(sid, int(c[0]), int(c[1]), c[2]) for sid, c in self._counts.items()]
        for rows in _chunks(counts):
            conn.execute(_update_sql(len(rows)), [v for row in rows for v in row])
        self._rows.clear()
        self._counts.clear()

    def discard(self) -> None:
        """Forget buffered rows and cached numbering (after a rollback)."""
        self._rows.clear()
        self._counts.clear()
        self._next_seq.clear()

    def invalidate(self) -> None:
        """Another operation ran: cached numbering may be stale (e.g. a deleted session)."""
        self._next_seq.clear()


def _title_owner(conn: sqlite3.Connection, title: str) -> str | None:
    row = conn.execute("SELECT id FROM sessions WHERE title = ?", (title,)).fetchone()
    return None if row is None else str(row[0])


def _exists(conn: sqlite3.Connection, session_id: str) -> bool:
    return conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None


def create_session(tx: Tx, new: NewSession) -> SessionRecord:
    conn = tx.conn
    sid = new.id or secrets.token_hex(8)
    root, depth = sid, 0
    if new.parent_id is not None:
        parent = conn.execute(
            "SELECT root_id, depth FROM sessions WHERE id = ?", (new.parent_id,)
        ).fetchone()
        if parent is None:
            raise SessionNotFound(f"parent session {new.parent_id!r} does not exist")
        root, depth = parent[0], parent[1] + 1
    title = new.title or None
    now = time.time()
    try:
        conn.execute(
            "INSERT INTO sessions (id, parent_id, root_id, depth, source, user_id, chat_id,"
            " title, model, provider, system_prompt, goal, status, started_at, updated_at,"
            " pid, host, proc_start, metadata)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
            (
                sid, new.parent_id, root, depth, new.source, new.user_id, new.chat_id,
                title, new.model, new.provider, new.system_prompt, new.goal, now, now,
                tx.ident.pid, tx.ident.host, tx.ident.start, metadata_json(new.metadata),
            ),
        )  # fmt: skip
    except sqlite3.IntegrityError as exc:
        if _exists(conn, sid):
            raise StoreError(f"a session with id {sid!r} already exists") from exc
        owner = _title_owner(conn, title) if title else None
        if owner is not None:
            raise StoreError(f"title {title!r} is already used by session {owner}") from exc
        raise
    row = conn.execute(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (sid,)).fetchone()
    return session_from_row(row)


def end_session(tx: Tx, session_id: str, end: SessionEnd, reason: str | None) -> None:
    """Write the terminal status once, adding ``end``'s usage to the running totals.

    A second terminal update of an already-ended session is ignored, usage
    included: the first outcome recorded is the true one (e.g. ``interrupted``
    written by a cancelled run must not become ``failed`` in a later cleanup).
    """
    if end.status not in TERMINAL_SESSION_STATUSES:
        raise StoreError(f"{end.status!r} is not a terminal session status")
    u = end.usage
    now = time.time()
    cur = tx.conn.execute(
        "UPDATE sessions SET status = ?, end_reason = ?, ended_at = ?, updated_at = ?,"
        " input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
        " api_calls = api_calls + ?,"
        " cost_usd = CASE WHEN ? IS NULL THEN cost_usd ELSE coalesce(cost_usd, 0) + ? END"
        " WHERE id = ? AND status = 'running'",
        (end.status, reason, now, now, u.input_tokens, u.output_tokens, end.api_calls,
         u.cost_usd, u.cost_usd, session_id),
    )  # fmt: skip
    if cur.rowcount == 0 and not _exists(tx.conn, session_id):
        raise SessionNotFound(f"no session {session_id!r}")


def reopen_session(tx: Tx, session_id: str) -> SessionRecord:
    """Make a session ``running`` again (resume) as a session of this process."""
    cur = tx.conn.execute(
        "UPDATE sessions SET status = 'running', end_reason = NULL, ended_at = NULL,"
        " updated_at = ?, pid = ?, host = ?, proc_start = ? WHERE id = ?",
        (time.time(), tx.ident.pid, tx.ident.host, tx.ident.start, session_id),
    )
    if cur.rowcount == 0:
        raise SessionNotFound(f"no session {session_id!r}")
    row = tx.conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
    ).fetchone()
    return session_from_row(row)


def add_usage(tx: Tx, session_id: str, usage: Usage, api_calls: int) -> None:
    cost = usage.cost_usd
    cur = tx.conn.execute(
        "UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
        " api_calls = api_calls + ?,"
        " cost_usd = CASE WHEN ? IS NULL THEN cost_usd ELSE coalesce(cost_usd, 0) + ? END,"
        " updated_at = ? WHERE id = ?",
        (usage.input_tokens, usage.output_tokens, api_calls, cost, cost, time.time(), session_id),
    )
    if cur.rowcount == 0:
        raise SessionNotFound(f"no session {session_id!r}")


def add_aux_usage(tx: Tx, session_id: str, task: str, usage: Usage) -> None:
    """One side-task call's usage, accumulated per (session, task)."""
    if tx.conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
        raise SessionNotFound(f"no session {session_id!r}")
    cost = usage.cost_usd
    tx.conn.execute(
        "INSERT INTO aux_usage (session_id, task, calls, input_tokens, output_tokens, cost_usd)"
        " VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (session_id, task) DO UPDATE SET"
        " calls = calls + 1, input_tokens = input_tokens + excluded.input_tokens,"
        " output_tokens = output_tokens + excluded.output_tokens,"
        " cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN cost_usd"
        " ELSE coalesce(cost_usd, 0) + excluded.cost_usd END",
        (session_id, task, usage.input_tokens, usage.output_tokens, cost),
    )


def rename(tx: Tx, session_id: str, title: str | None) -> None:
    title = title.strip() if title else None
    try:
        cur = tx.conn.execute(
            "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
            (title or None, time.time(), session_id),
        )
    except sqlite3.IntegrityError as exc:
        owner = _title_owner(tx.conn, title) if title else None
        raise StoreError(f"title {title!r} is already used by session {owner}") from exc
    if cur.rowcount == 0:
        raise SessionNotFound(f"no session {session_id!r}")


def _delete_ids(conn: sqlite3.Connection, ids: list[str]) -> int:
    if not ids:
        return 0
    payload = json.dumps(ids)
    conn.execute(
        "DELETE FROM messages WHERE session_id IN (SELECT value FROM json_each(?))", (payload,)
    )
    cur = conn.execute(
        "DELETE FROM sessions WHERE id IN (SELECT value FROM json_each(?))", (payload,)
    )
    return cur.rowcount


def delete(tx: Tx, session_id: str) -> int:
    """Delete a session, its descendants and their messages (and their index entries)."""
    if not _exists(tx.conn, session_id):
        raise SessionNotFound(f"no session {session_id!r}")
    ids = [row[0] for row in tx.conn.execute(_SUBTREE, (session_id,))]
    return _delete_ids(tx.conn, ids)


def prune(tx: Tx, older_than_days: float) -> int:
    """Delete sessions that ended before the cutoff, with their (ended) descendants.

    A tree in which anything is still ``running`` is kept whole: deleting a live
    run's parent would cut it off from its lineage while it is still writing.
    """
    cutoff = time.time() - older_than_days * 86400.0
    rows = tx.conn.execute(
        "WITH RECURSIVE tree(top, id, status) AS ("
        " SELECT id, id, status FROM sessions"
        "  WHERE status != 'running' AND ended_at IS NOT NULL AND ended_at < ?"
        " UNION ALL SELECT tree.top, s.id, s.status FROM sessions s"
        "  JOIN tree ON s.parent_id = tree.id)"
        " SELECT top, id, status FROM tree",
        (cutoff,),
    ).fetchall()
    blocked = {top for top, _, status in rows if status == "running"}
    ids = sorted({sid for top, sid, _ in rows if top not in blocked})
    return _delete_ids(tx.conn, ids)


def sweep_orphans(conn: sqlite3.Connection, ident: ProcessIdent) -> int:
    """Mark ``running`` sessions of dead processes on this host as ``orphaned``."""
    rows = conn.execute(
        "SELECT id, pid, proc_start FROM sessions"
        " WHERE status = 'running' AND host = ? AND pid IS NOT NULL",
        (ident.host,),
    ).fetchall()
    verdicts: dict[tuple[int, str | None], bool] = {}
    now = time.time()
    marked = 0
    for sid, pid, start in rows:
        key = (int(pid), start)
        if key not in verdicts:
            ours = key[0] == ident.pid and (start is None or start == ident.start)
            verdicts[key] = not ours and process_is_gone(key[0], start)
        if verdicts[key]:
            reason = f"process {pid} on {ident.host} exited while the session was running"
            cur = conn.execute(
                "UPDATE sessions SET status = 'orphaned', end_reason = ?, ended_at = ?,"
                " updated_at = ? WHERE id = ? AND status = 'running'",
                (reason, now, now, sid),
            )
            marked += cur.rowcount
    return marked


def index_backlog(conn: sqlite3.Connection, limit: int) -> tuple[int, bool]:
    """Index up to ``limit`` ids above the watermark; returns (rows indexed, more left).

    One ``INSERT … SELECT`` per index: FTS5 writes one segment per statement, so
    indexing a range at once is several times faster than row by row.
    """
    upto = conn.execute("SELECT indexed_upto FROM search_state WHERE id = 1").fetchone()[0]
    top = conn.execute("SELECT max(id) FROM messages").fetchone()[0]
    if top is None or top <= upto:
        return 0, False
    hi = min(top, upto + limit)
    span = (upto, hi)
    conn.execute(
        "INSERT INTO messages_fts (rowid, content)"
        " SELECT id, content FROM messages WHERE id > ? AND id <= ?",
        span,
    )
    cur = conn.execute(
        "INSERT INTO messages_tri (rowid, content)"
        " SELECT id, content FROM messages WHERE id > ? AND id <= ?",
        span,
    )
    conn.execute("UPDATE search_state SET indexed_upto = ? WHERE id = 1", (hi,))
    return max(cur.rowcount, 0), hi < top


def backlog_exists(conn: sqlite3.Connection) -> bool:
    """Cheap check (no write lock) for unindexed rows, e.g. left by a crashed process."""
    row = conn.execute(
        "SELECT (SELECT max(id) FROM messages) > (SELECT indexed_upto FROM search_state)"
    ).fetchone()
    return bool(row[0])
