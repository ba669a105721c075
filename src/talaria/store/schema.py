"""The session database schema as an ordered list of named migrations.

Why named migrations instead of a version number: two branches of Talaria can
each add a migration without colliding, and a database records *which* steps
it has seen, so a database touched by a newer Talaria (one with names we do not
know) is refused instead of being silently misread.

Each migration runs in its own ``BEGIN IMMEDIATE`` transaction and is recorded
in ``schema_migrations`` in that same transaction, so a crash mid-upgrade leaves
the database at the previous step, and several processes opening an old file at
once apply every step exactly once (the list of applied names is re-read under
the write lock).  Migrations are defensive about columns that may already exist.

Never edit a shipped migration: append a new one.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from talaria.store.base import StoreBusy, StoreError

BeginFn = Callable[[], None]
"""Starts a write transaction (``BEGIN IMMEDIATE`` with the store's busy retry)."""


def _m0001_sessions_and_messages(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS sessions (
            id              TEXT PRIMARY KEY,
            parent_id       TEXT REFERENCES sessions(id),
            root_id         TEXT NOT NULL,
            depth           INTEGER NOT NULL DEFAULT 0,
            source          TEXT NOT NULL,
            user_id         TEXT,
            chat_id         TEXT,
            title           TEXT,
            model           TEXT NOT NULL DEFAULT '',
            provider        TEXT NOT NULL DEFAULT '',
            system_prompt   TEXT,
            goal            TEXT,
            status          TEXT NOT NULL DEFAULT 'running',
            end_reason      TEXT,
            started_at      REAL NOT NULL,
            ended_at        REAL,
            updated_at      REAL NOT NULL,
            message_count   INTEGER NOT NULL DEFAULT 0,
            tool_call_count INTEGER NOT NULL DEFAULT 0,
            api_calls       INTEGER NOT NULL DEFAULT 0,
            input_tokens    INTEGER NOT NULL DEFAULT 0,
            output_tokens   INTEGER NOT NULL DEFAULT 0,
            cost_usd        REAL,
            pid             INTEGER,
            host            TEXT,
            metadata        TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    conn.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS sessions_title ON sessions(title) "
        "WHERE title IS NOT NULL"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS sessions_started ON sessions(started_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS sessions_parent ON sessions(parent_id)")
    # AUTOINCREMENT: message ids never go backwards, even after the newest rows
    # are deleted.  The search indexer relies on that (see 0002).
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS messages (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id    TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL,
            role          TEXT NOT NULL,
            content       TEXT,
            tool_calls    TEXT,
            tool_call_id  TEXT,
            tool_name     TEXT,
            finish_reason TEXT,
            reasoning     TEXT,
            token_count   INTEGER,
            created_at    REAL NOT NULL,
            UNIQUE (session_id, seq)
        )
        """
    )


def _m0002_search(conn: sqlite3.Connection) -> None:
    """Two FTS5 indexes over message content, filled by the writer behind a watermark.

    ``messages_fts`` (porter + unicode61) finds words and their inflections;
    ``messages_tri`` (trigram) finds substrings, identifiers such as
    ``foo_bar.baz`` and CJK text, which has no spaces for unicode61 to split on.
    Both are external-content tables over ``messages`` (no second copy of the
    text).  They are not maintained by insert triggers: FTS5 flushes a segment
    per statement, which makes per-row indexing several times slower than one
    ``INSERT … SELECT`` over a range of rows.  Instead ``search_state.indexed_upto``
    records the highest message id indexed; the writer indexes the rows above it
    in bulk (see ``ops.index_backlog``).  Deletes must remove indexed rows from
    the indexes with their original text, hence the delete trigger.  Existing
    messages (an upgraded database) are indexed by the same mechanism.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS search_state ("
        " id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)"
    )
    conn.execute("INSERT OR IGNORE INTO search_state (id, indexed_upto) VALUES (1, 0)")
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
        " content, content='messages', content_rowid='id', tokenize='porter unicode61')"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS messages_tri USING fts5("
        " content, content='messages', content_rowid='id', tokenize='trigram')"
    )
    conn.execute(
        """
        CREATE TRIGGER IF NOT EXISTS messages_unindex AFTER DELETE ON messages
        WHEN old.id <= (SELECT indexed_upto FROM search_state WHERE id = 1)
        BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_tri (messages_tri, rowid, content)
                VALUES ('delete', old.id, old.content);
        END
        """
    )


def _m0003_liveness_and_listing(conn: sqlite3.Connection) -> None:
    """Process start identity for orphan detection; indexes for filtered listings.

    ``proc_start`` (boot id + start time of the writing process) tells a live
    process from a dead one whose pid was reused.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
    if "proc_start" not in columns:
        conn.execute("ALTER TABLE sessions ADD COLUMN proc_start TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS sessions_status ON sessions(status, started_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS sessions_source ON sessions(source, started_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS sessions_root ON sessions(root_id)")


def _m0004_aux_usage(conn: sqlite3.Connection) -> None:
    """Side-task (auxiliary model) usage, per session and task, kept apart from the
    main model's totals so a cheap title model's cost is visible as such."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS aux_usage ("
        " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
        " task TEXT NOT NULL,"
        " calls INTEGER NOT NULL DEFAULT 0,"
        " input_tokens INTEGER NOT NULL DEFAULT 0,"
        " output_tokens INTEGER NOT NULL DEFAULT 0,"
        " cost_usd REAL,"
        " PRIMARY KEY (session_id, task))"
    )


MIGRATIONS: tuple[tuple[str, Callable[[sqlite3.Connection], None]], ...] = (
    ("0001_sessions_and_messages", _m0001_sessions_and_messages),
    ("0002_search", _m0002_search),
    ("0003_liveness_and_listing", _m0003_liveness_and_listing),
    ("0004_aux_usage", _m0004_aux_usage),
)
"""Applied in this order; the names are recorded, so never rename or reorder."""


def _applied(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM schema_migrations")]


def migrate(conn: sqlite3.Connection, begin: BeginFn, *, where: str) -> list[str]:
    """Bring the database up to date; returns the names applied by this call.

    ``where`` (the file path) only makes error messages useful.  Raises
    StoreError if the database has migrations this code does not know.
    """
    known = [name for name, _ in MIGRATIONS]
    begin()
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        applied = _applied(conn)
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise StoreError(
            f"{where}: this database was created by a newer Talaria "
            f"(unknown migrations: {', '.join(unknown)}); upgrade Talaria to open it"
        )
    done: list[str] = []
    for name, apply in MIGRATIONS:
        if name in applied:
            continue
        begin()
        try:
            if name not in _applied(conn):  # another process may have just applied it
                apply(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, time.time()),
                )
                done.append(name)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreError(f"{where}: migration {name} failed: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise
    return done


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def open_write_connection(path: Path, synchronous: str, busy_budget: float) -> sqlite3.Connection:
    """The writer's connection: a private file (0600), WAL, and the writer's pragmas.

    The file is created with mode 0600 before SQLite opens it; SQLite gives its
    ``-wal`` and ``-shm`` files the main file's mode.  An existing file is made
    private too.  ``busy_timeout`` ends at 0: the writer retries ``BEGIN
    IMMEDIATE`` itself (see writer.py); the open itself may wait for another
    process that is recovering the WAL.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        try:
            Path(f"{path}{suffix}").chmod(0o600)
        except (FileNotFoundError, PermissionError):
            pass
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_budget, cached_statements=512)
    try:
        deadline = time.monotonic() + busy_budget
        while True:
            # Switching to WAL takes an exclusive lock.  When several processes or
            # stores open a new file at once SQLite may answer "database is locked"
            # without calling the busy handler (it would risk a deadlock), so retry.
            try:
                if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                    break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
            if time.monotonic() > deadline:
                raise StoreBusy(f"{path}: could not switch the database to WAL mode")
            time.sleep(0.005 + random.random() * 0.01)
        for pragma in (
            f"synchronous = {synchronous}",
            "foreign_keys = ON",
            "wal_autocheckpoint = 0",  # the writer checkpoints outside callers' commits
            "journal_size_limit = 16777216",  # a reset WAL is truncated back to 16 MiB
            "temp_store = MEMORY",
            "cache_size = -32000",
            "busy_timeout = 0",
        ):
            conn.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    return conn
