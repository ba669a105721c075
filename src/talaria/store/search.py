"""Full-text search over past messages: a query sanitiser and two FTS5 indexes.

Users type search queries the way they type into any search box: with quotes,
dashes, ``foo_bar.baz``, a stray ``(`` or ``*``, a trailing ``OR``.  Handed to
FTS5 raw, most of those are syntax errors.  The sanitiser therefore never
passes user text through as syntax: every term becomes a quoted FTS5 string,
and only a few operators are recognised (``OR``, ``AND``, ``NOT`` in capitals
between terms, a trailing ``*`` for prefixes, ``"balanced phrases"``).  Whatever
is left over is dropped, so a query either searches or returns nothing.

Two indexes:

1. ``messages_fts`` (porter + unicode61): word matches with stemming
   (``running`` finds ``runs``), ranked by bm25.  The better signal for
   words, so it is tried first.
2. ``messages_tri`` (trigram): substrings, identifiers and CJK text, which
   unicode61 keeps as one long token.  Needs every term to be at least three
   characters (shorter terms match nothing in a trigram index); bm25-ranked
   too.  Used alone for queries with punctuation inside terms or non-ASCII
   text (what unicode61 tokenises away), and for plain words only when the
   word index found nothing.

Each index is queried in two steps: rank (bm25) the newest ``CANDIDATES``
matches and keep the best ``limit``, then build snippets for those alone.
Ranking has a time budget; a query too costly to rank (very common phrases,
substrings of common trigrams) returns its newest matches instead, rank 0.0.
"""

from __future__ import annotations

import re
import sqlite3
import time
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
            if item.prefix:
                return None  # prefixes are searched as substrings (see sanitise)
            if not any(ch.isalnum() for ch in item.text):
                op = None
                continue
            term = _quote(item.text)
        parts.append((op, term))
        op = None
    return _join(parts)


def sanitise(raw: str) -> FtsQueries:
    """Turn arbitrary user input into safe MATCH expressions for both indexes.

    ``foo*`` is searched in the trigram index only (as the substring ``foo``):
    without a prefix index FTS5 answers a prefix query by merging the lists of
    every word that starts with it, across the whole history, which took
    hundreds of milliseconds on a million messages.
    """
    items = _parse(raw or "")
    return FtsQueries(words=_build(items, trigram=False), substrings=_build(items, trigram=True))


CANDIDATES = 10_000
"""How many matches are ranked at most, newest first.  bm25 needs every matching
document scored; a common word matches half of a million-message history, which
takes a second.  Ranking the newest 10,000 matches keeps such a query within
tens of milliseconds, is exact whenever a query matches fewer rows, and for a
very common term the best hits of the recent past are what a user wants.

(Narrower rowid windows, newest first, were tried and were slower: FTS5's bm25
counts every document containing each phrase, across the whole index, once per
statement, so each extra window paid that again.)"""

_INDEXES = (("messages_fts", 16), ("messages_tri", 48))
_NOT_WORDY = re.compile(r"[^\w\s\"*]|[^\x00-\x7f]")
"""Punctuation inside terms (``foo_bar.baz``, ``a/b``, ``x-y``) or non-ASCII text:
what the word index tokenises away and only the trigram index can match."""


RANK_BUDGET = {"messages_fts": 0.06, "messages_tri": 0.03}
"""Seconds bm25 ranking may take per index before the search falls back to newest
first.  bm25 counts every document containing each phrase across the whole index;
for a substring made of common trigrams that alone took 100-200 ms on a million
messages, while listing the newest matches took 1-5 ms."""


def _ranked(
    conn: sqlite3.Connection, table: str, expr: str, limit: int, exclude: str | None
) -> list[tuple[int, float]]:
    """(rowid, bm25) of the best ``limit`` among the newest CANDIDATES matches, or,
    past the table's RANK_BUDGET, the newest ``limit`` matches with rank 0.0."""
    excluded = " AND rowid NOT IN (SELECT id FROM messages WHERE session_id = ?)" if exclude else ""
    params: tuple[object, ...] = (expr, exclude, limit) if exclude else (expr, limit)
    deadline = time.monotonic() + RANK_BUDGET[table]
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 2000)
    try:
        rows = conn.execute(
            f"SELECT rid, r FROM (SELECT rowid AS rid, bm25({table}) AS r FROM {table}"
            f" WHERE {table} MATCH ?{excluded} ORDER BY rowid DESC LIMIT {CANDIDATES})"
            " ORDER BY r, rid DESC LIMIT ?",
            params,
        ).fetchall()
        return [(int(rid), float(r)) for rid, r in rows]
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise
    finally:
        conn.set_progress_handler(None, 0)
    rows = conn.execute(
        f"SELECT rowid FROM {table} WHERE {table} MATCH ?{excluded} ORDER BY rowid DESC LIMIT ?",
        params,
    ).fetchall()
    return [(int(row[0]), 0.0) for row in rows]


def _snippet(conn: sqlite3.Connection, table: str, tokens: int, expr: str, rowid: int) -> str:
    row = conn.execute(
        f"SELECT snippet({table}, 0, '[', ']', '…', {tokens}) FROM {table}"
        f" WHERE {table} MATCH ? AND rowid = ?",
        (expr, rowid),
    ).fetchone()
    return str(row[0]) if row and row[0] is not None else ""


TAIL_ROWS = 2_000
"""At most this many not-yet-indexed messages are scanned directly per search."""


def _unindexed(
    conn: sqlite3.Connection, query: str, limit: int, exclude: str | None
) -> list[tuple[int, str]]:
    """Messages above the index watermark matching ``query`` as case-insensitive
    substrings, with the sanitiser's operators (``OR`` between groups of ANDed terms,
    ``NOT term`` excluded)."""
    groups: list[tuple[list[str], list[str]]] = [([], [])]
    negate = False
    for item in _parse(query):
        if item == "OR":
            groups.append(([], []))
        elif item == "NOT":
            negate = True
        elif isinstance(item, _Term):
            (groups[-1][1] if negate else groups[-1][0]).append(item.text.lower())
            negate = False
    groups = [g for g in groups if g[0]]
    if not groups:
        return []
    row = conn.execute("SELECT indexed_upto FROM search_state WHERE id = 1").fetchone()
    upto = row[0] if row else 0
    sql = "SELECT id, content FROM messages WHERE id > ? AND content IS NOT NULL"
    params: list[object] = [upto]
    if exclude is not None:
        sql += " AND session_id != ?"
        params.append(exclude)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(TAIL_ROWS)
    out: list[tuple[int, str]] = []
    for rowid, content in conn.execute(sql, params):
        lowered = content.lower()
        for wanted, unwanted in groups:
            if all(t in lowered for t in wanted) and not any(t in lowered for t in unwanted):
                out.append((rowid, _mark(content, lowered, wanted[0])))
                break
        if len(out) >= limit:
            break
    return out


def _mark(content: str, lowered: str, term: str, width: int = 60) -> str:
    """A snippet around the first occurrence of ``term``, marked like FTS snippets."""
    at = lowered.find(term)
    start, end = max(0, at - width), min(len(content), at + len(term) + width)
    head = ("…" if start else "") + content[start:at]
    tail = content[at + len(term) : end] + ("…" if end < len(content) else "")
    return f"{head}[{content[at : at + len(term)]}]{tail}"


def search(
    conn: sqlite3.Connection, query: str, *, limit: int, exclude_session: str | None
) -> list[SearchHit]:
    """bm25-ranked hits, word matches first, then substring-only matches.

    Messages not indexed yet (indexing is deferred to the writer's idle moments,
    a few milliseconds behind) are scanned directly, so a search never misses
    what was just said.
    """
    if limit <= 0:
        return []
    queries = sanitise(query)
    found: list[tuple[int, float, str]] = []  # rowid, rank, snippet
    seen: set[int] = set()
    for rowid, snip in _unindexed(conn, query, limit, exclude_session):
        seen.add(rowid)
        found.append((rowid, 0.0, snip))
    words, substrings = queries.words, queries.substrings
    if substrings is not None and _NOT_WORDY.search(query):
        words = None  # identifiers, paths, CJK: the substring index is the one that can tell
    for (table, tokens), expr in zip(_INDEXES, (words, substrings), strict=True):
        if expr is None or (table == "messages_tri" and found):
            continue  # plain words matched as words: skip the costlier substring pass
        try:
            ranked = _ranked(conn, table, expr, limit, exclude_session)
            for rowid, rank in ranked:
                if rowid not in seen and len(found) < limit:
                    seen.add(rowid)
                    found.append((rowid, rank, _snippet(conn, table, tokens, expr, rowid)))
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc) or "syntax" in str(exc):
                continue  # the sanitiser should make this impossible; never fail a search on it
            raise StoreError(f"search failed: {exc}") from exc
    if not found:
        return []
    marks = ", ".join("?" * len(found))
    meta = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT m.id, m.session_id, m.seq, m.role, s.title, m.created_at FROM messages m"
            f" JOIN sessions s ON s.id = m.session_id WHERE m.id IN ({marks})",
            [rowid for rowid, _, _ in found],
        )
    }
    hits = []
    for rowid, rank, snip in found:
        if rowid in meta:  # deleted between the queries: skip
            session_id, seq, role, title, created = meta[rowid]
            hits.append(
                SearchHit(
                    session_id=session_id,
                    seq=seq,
                    role=role,
                    snippet=snip,
                    rank=rank,
                    session_title=title,
                    created_at=created,
                )
            )
    return hits
