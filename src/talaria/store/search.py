"""Full-text search over past messages: a query sanitiser and two FTS5 indexes.

Users type search queries the way they type into any search box: with quotes,
dashes, ``foo_bar.baz``, a stray ``(`` or ``*``, a trailing ``OR``.  Handed to
FTS5 raw, most of those are syntax errors.  The sanitiser therefore never
passes user text through as syntax: every term becomes a quoted FTS5 string,
and only a few operators are recognised (``OR``, ``AND``, ``NOT`` in capitals
between terms, a trailing ``*`` for prefixes, ``"balanced phrases"``).  Whatever
is left over is dropped, so a query either searches or returns nothing.

Two indexes, searched in order:

1. ``messages_fts`` (porter + unicode61): word matches with stemming
   (``running`` finds ``runs``), ranked by bm25.  The better signal, so its
   hits come first.
2. ``messages_tri`` (trigram): substrings, identifiers and CJK text, which
   unicode61 keeps as one long token.  Needs every term to be at least three
   characters (shorter terms match nothing in a trigram index); its hits fill
   the remaining places, also bm25-ranked.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from talaria.store.base import SearchHit, StoreError

_PIECE = re.compile(r'"([^"]*)"|(\S+)')
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_MIN_TRIGRAM = 3


@dataclass(frozen=True, slots=True)
class _Term:
    text: str
    prefix: bool


@dataclass(frozen=True, slots=True)
class FtsQueries:
    """The sanitised MATCH expressions; None where an index cannot help."""

    words: str | None
    substrings: str | None


def _parse(raw: str) -> list[_Term | str]:
    items: list[_Term | str] = []
    for match in _PIECE.finditer(raw):
        phrase, bare = match.group(1), match.group(2)
        if phrase is not None:
            if phrase.strip():
                items.append(_Term(phrase.strip(), prefix=False))
            continue
        if bare in _OPERATORS:
            items.append(bare)
            continue
        text = bare.replace('"', "")
        prefix = text.endswith("*")
        text = text.strip("*")
        if text:
            items.append(_Term(text, prefix=prefix))
    return items


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _join(parts: list[tuple[str | None, str]]) -> str | None:
    """Combine (operator before, quoted term) pairs into a valid expression."""
    out: list[str] = []
    for op, term in parts:
        if out:
            out.append(op or "AND")
        out.append(term)
    return " ".join(out) or None


def _build(items: list[_Term | str], *, trigram: bool) -> str | None:
    parts: list[tuple[str | None, str]] = []
    op: str | None = None
    skip_next = False
    for item in items:
        if isinstance(item, str):
            if not parts and item == "NOT":
                skip_next = True  # "NOT x" alone has no left side: drop the clause
            op = item if parts else None
            continue
        if skip_next:
            skip_next = False
            continue
        if trigram:
            if len(item.text) < _MIN_TRIGRAM:
                if op != "OR":
                    return None  # a required term the trigram index cannot check
                op = None
                continue
            term = _quote(item.text)
        else:
            if not any(ch.isalnum() for ch in item.text):
                op = None
                continue
            term = _quote(item.text) + (" *" if item.prefix else "")
        parts.append((op, term))
        op = None
    return _join(parts)


def sanitise(raw: str) -> FtsQueries:
    """Turn arbitrary user input into safe MATCH expressions for both indexes."""
    items = _parse(raw or "")
    return FtsQueries(words=_build(items, trigram=False), substrings=_build(items, trigram=True))


def _sql(table: str, tokens: int, exclude: bool) -> str:
    excluded = " AND rowid NOT IN (SELECT id FROM messages WHERE session_id = ?)" if exclude else ""
    return (
        "SELECT h.rid, m.session_id, m.seq, m.role, h.snip, h.rank, s.title, m.created_at"
        f" FROM (SELECT rowid AS rid, snippet({table}, 0, '[', ']', '…', {tokens}) AS snip,"
        f" rank FROM {table} WHERE {table} MATCH ?{excluded} ORDER BY rank LIMIT ?) AS h"
        " JOIN messages m ON m.id = h.rid JOIN sessions s ON s.id = m.session_id"
        " ORDER BY h.rank"
    )


_INDEXES = (("messages_fts", 16), ("messages_tri", 48))


def search(
    conn: sqlite3.Connection, query: str, *, limit: int, exclude_session: str | None
) -> list[SearchHit]:
    """bm25-ranked hits, word matches first, then substring-only matches."""
    if limit <= 0:
        return []
    queries = sanitise(query)
    hits: list[SearchHit] = []
    seen: set[int] = set()
    for (table, tokens), expr in zip(_INDEXES, (queries.words, queries.substrings), strict=True):
        if expr is None or len(hits) >= limit:
            continue
        params: tuple[object, ...] = (
            (expr, exclude_session, limit) if exclude_session else (expr, limit)
        )
        try:
            rows = conn.execute(_sql(table, tokens, exclude_session is not None), params).fetchall()
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc) or "syntax" in str(exc):
                continue  # the sanitiser should make this impossible; never fail a search on it
            raise StoreError(f"search failed: {exc}") from exc
        for rid, session_id, seq, role, snip, rank, title, created in rows:
            if rid in seen:
                continue
            seen.add(rid)
            hits.append(
                SearchHit(
                    session_id=session_id,
                    seq=seq,
                    role=role,
                    snippet=snip or "",
                    rank=rank,
                    session_title=title,
                    created_at=created,
                )
            )
    return hits[:limit]
