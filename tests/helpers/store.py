"""Checks on a session database file that do not go through the store under test."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def integrity(path: Path) -> str:
    with raw(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def index_counts(path: Path) -> tuple[int, int, int]:
    """(messages, rows in the word index, rows in the trigram index).

    Counts the indexes' own per-document records (``*_docsize``): a plain
    ``count(*)`` on an external-content FTS table reads the content table and
    would report the message count whether or not anything was indexed.
    """
    with raw(path) as conn:
        return (
            conn.execute("SELECT count(*) FROM messages").fetchone()[0],
            conn.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()[0],
            conn.execute("SELECT count(*) FROM messages_tri_docsize").fetchone()[0],
        )


def fts_integrity_ok(path: Path) -> bool:
    """FTS5's own check that both indexes match the messages table."""
    with raw(path) as conn:
        for table in ("messages_fts", "messages_tri"):
            conn.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)")
    return True


def seqs_by_session(path: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    with raw(path) as conn:
        for sid, seq in conn.execute(
            "SELECT session_id, seq FROM messages ORDER BY session_id, seq"
        ):
            out[sid].append(seq)
    return dict(out)


def assert_gap_free(path: Path) -> dict[str, list[int]]:
    seqs = seqs_by_session(path)
    for sid, values in seqs.items():
        assert values == list(range(1, len(values) + 1)), f"session {sid}: seqs not 1..n"
    with raw(path) as conn:
        for sid, count in conn.execute("SELECT id, message_count FROM sessions"):
            assert count == len(seqs.get(sid, [])), f"session {sid}: message_count {count}"
    return seqs
