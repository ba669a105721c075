"""Search: the sanitiser never lets user input become FTS5 syntax; both indexes find things."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.procs import wait_until
from talaria.store.base import NewSession
from talaria.store.search import sanitise
from talaria.store.sqlite import SqliteStore
from talaria.types import Message

HOSTILE = [
    '"', '""', "'", "foo-bar", "-foo", "AND", "OR", "NOT", "a OR", "OR a", "NOT a", "a NOT",
    "a AND AND b", "(", ")", "(foo", "foo)", "*", "**", "foo*", "*foo", "", "   ", "NEAR(",
    "NEAR(a b)", "a:b", "content:foo", "^foo", "foo^", "{a b}", "a + b", '"unbalanced', "\\",
    "'; DROP TABLE messages; --", "\x00", "🙂", "ab", "数", "a" * 5000,
]  # fmt: skip


@pytest.fixture
def corpus(db_path: Path) -> Iterator[tuple[SqliteStore, dict[str, str]]]:
    store = SqliteStore(db_path)
    a = store.create_session(NewSession(source="cli", title="parser work")).id
    b = store.create_session(NewSession(source="cli")).id
    texts = [
        (a, "Refactor parse_config_file in loader.py, then run the tests"),
        (a, "The tests are running now; foo_bar.baz failed with KeyError"),
        (a, "数据库连接池已经满了，需要增加连接数"),
        (b, "Deploy the service with docker compose"),
        (b, "config config config: the config loader reads config.yaml"),
        (b, "Unrelated chatter about the weather and lunch"),
    ]
    for sid, text in texts:
        store.append_message(sid, Message.user(text))
    assert wait_until(lambda: len(store.search("weather")) == 1, 10)  # indexed by the writer
    yield store, {"a": a, "b": b}
    store.close()


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(
    corpus: tuple[SqliteStore, dict[str, str]], query: str
) -> None:
    store, _ = corpus
    hits = store.search(query)
    assert isinstance(hits, list)


@pytest.mark.parametrize("query", HOSTILE)
def test_sanitised_expressions_are_valid_fts5(db_path: Path, query: str) -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE w USING fts5(content, tokenize='porter unicode61')")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(content, tokenize='trigram')")
    q = sanitise(query)
    for table, expr in (("w", q.words), ("t", q.substrings)):
        if expr is not None:
            conn.execute(f"SELECT * FROM {table} WHERE {table} MATCH ?", (expr,)).fetchall()


def test_words_with_stemming(corpus: tuple[SqliteStore, dict[str, str]]) -> None:
    store, ids = corpus
    hits = store.search("run test")  # stems: running/run, tests
    assert {h.seq for h in hits if h.session_id == ids["a"]} == {1, 2}
    assert all("[" in h.snippet and "]" in h.snippet for h in hits)
    assert hits[0].session_title == "parser work"


def test_substrings_and_identifiers_via_trigram(corpus: tuple[SqliteStore, dict[str, str]]) -> None:
    store, ids = corpus
    hits = store.search("o_bar.ba")
    assert [(h.session_id, h.seq) for h in hits] == [(ids["a"], 2)]
    assert "[o_bar.ba]" in hits[0].snippet
    assert [h.seq for h in store.search("config_fi")] == [1]
    assert [h.seq for h in store.search("foo_bar.baz")] == [2]


def test_cjk_via_trigram(corpus: tuple[SqliteStore, dict[str, str]]) -> None:
    store, ids = corpus
    hits = store.search("连接池")
    assert [(h.session_id, h.seq) for h in hits] == [(ids["a"], 3)]
    assert "[连接池]" in hits[0].snippet
    assert store.search("增加连接") and not store.search("连接器不存在")


def test_exclude_session(corpus: tuple[SqliteStore, dict[str, str]]) -> None:
    store, ids = corpus
    assert {h.session_id for h in store.search("config")} == {ids["a"], ids["b"]}
    assert {h.session_id for h in store.search("config", exclude_session=ids["b"])} == {ids["a"]}
    assert store.search("连接池", exclude_session=ids["a"]) == []


def test_ranking_prefers_the_message_about_the_term(
    corpus: tuple[SqliteStore, dict[str, str]],
) -> None:
    store, ids = corpus
    hits = store.search("config")
    assert (hits[0].session_id, hits[0].seq) == (ids["b"], 2)  # five mentions beat one
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


def test_operators_and_prefixes(corpus: tuple[SqliteStore, dict[str, str]]) -> None:
    store, _ = corpus
    assert len(store.search("docker OR weather")) == 2
    assert len(store.search("tests NOT KeyError")) == 1
    assert len(store.search("depl*")) == 1
    assert len(store.search('"docker compose"')) == 1
    assert store.search('"compose docker"') == []
    assert store.search("docker", limit=0) == []


def test_limit(corpus: tuple[SqliteStore, dict[str, str]]) -> None:
    store, _ = corpus
    assert len(store.search("the", limit=2)) == 2


def test_new_messages_become_searchable_without_closing(store: SqliteStore) -> None:
    s = store.create_session(NewSession(source="cli"))
    store.append_message(s.id, Message.user("xylophone quartet"))
    assert wait_until(lambda: len(store.search("xylophone")) == 1, 5)
    assert wait_until(lambda: len(store.search("ylophon")) == 1, 5)
