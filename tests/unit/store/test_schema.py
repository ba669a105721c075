"""Migrations: an old database is upgraded in place, a newer one is refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from helpers.procs import wait_until
from helpers.store import assert_gap_free, fts_integrity_ok, index_counts, integrity, raw
from talaria.store.base import StoreError
from talaria.store.schema import MIGRATIONS
from talaria.store.sqlite import SqliteStore
from talaria.types import Message

FIXTURE = Path(__file__).parent / "fixtures" / "v1_schema.sql"


def _v1_database(path: Path) -> None:
    with raw(path) as conn:
        conn.executescript(FIXTURE.read_text())


def test_upgrade_from_v1_keeps_every_row_and_makes_it_searchable(db_path: Path) -> None:
    _v1_database(db_path)
    store = SqliteStore(db_path)
    try:
        with raw(db_path) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]
            columns = {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
        assert names == [name for name, _ in MIGRATIONS]
        assert "proc_start" in columns

        old = store.resolve("old friend")
        assert (old.id, old.model, old.status, old.message_count) == (
            "a1b2c3d4e5f60718", "gpt-x", "completed", 4
        )  # fmt: skip
        assert (old.input_tokens, old.output_tokens, old.cost_usd) == (120, 30, 0.002)
        assert old.metadata == {"cwd": "/home/me"}
        msgs = store.messages(old.id)
        assert [m.seq for m in msgs] == [1, 2, 3, 4]
        assert msgs[1].tool_calls[0].name == "read_file"
        assert msgs[2].tool_call_id == "call_1"
        assert [c.id for c in store.children(old.id)] == ["a1b2c3d4e5f60719"]

        # Existing messages are indexed by the writer after the upgrade.
        assert wait_until(lambda: len(store.search("parse_config_file")) == 2, 10)
        assert store.search("重构了")[0].seq == 4
        # New messages continue the old numbering.
        assert store.append_message(old.id, Message.user("and now?")) == 5
    finally:
        store.close()
    assert integrity(db_path) == "ok"
    assert index_counts(db_path) == (6, 6, 6)
    assert fts_integrity_ok(db_path)
    assert_gap_free(db_path)


def test_a_database_from_a_newer_talaria_is_refused_untouched(db_path: Path) -> None:
    SqliteStore(db_path).close()
    with raw(db_path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('0999_from_the_future', 0)")
    with pytest.raises(StoreError, match="created by a newer Talaria") as info:
        SqliteStore(db_path)
    assert "0999_from_the_future" in str(info.value)
    with raw(db_path) as conn:
        assert (
            conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
            == len(MIGRATIONS) + 1
        )


def test_reopening_an_up_to_date_database_applies_nothing(db_path: Path) -> None:
    SqliteStore(db_path).close()
    with raw(db_path) as conn:
        before = conn.execute("SELECT name, applied_at FROM schema_migrations").fetchall()
    SqliteStore(db_path).close()
    with raw(db_path) as conn:
        assert conn.execute("SELECT name, applied_at FROM schema_migrations").fetchall() == before


def test_many_stores_opening_a_new_file_at_once_migrate_it_once(db_path: Path) -> None:
    stores: list[SqliteStore] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def opener() -> None:
        start.wait()
        try:
            s = SqliteStore(db_path)
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            stores.append(s)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert errors == []
    assert len(stores) == 6
    with raw(db_path) as conn:
        rows = conn.execute("SELECT name FROM schema_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == [name for name, _ in MIGRATIONS]
