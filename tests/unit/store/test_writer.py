"""The writer thread: group commit, failure isolation, busy budget, death, many threads."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.procs import wait_until
from helpers.store import (
    assert_gap_free,
    fts_integrity_ok,
    index_counts,
    integrity,
    raw,
)
from talaria.concurrency import to_thread
from talaria.store.base import (
    NewSession,
    SessionEnd,
    SessionNotFound,
    StoreBusy,
    StoreError,
)
from talaria.store.sqlite import SqliteStore
from talaria.types import Message, Usage

UNKNOWN = "feedfacefeedface"


def _in_threads(calls: list[Callable[[], Any]]) -> tuple[list[threading.Thread], list[Any]]:
    """Start one thread per call; results[i] is the value or the exception of calls[i]."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    return threads, results


def _join(threads: list[threading.Thread], timeout: float = 30) -> None:
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a caller hung"


def _queued(store: SqliteStore) -> int:
    w = store._writer
    return w._q.qsize() + len(w._inflight)


def test_group_commit_puts_everything_queued_into_one_transaction(
    store: SqliteStore, db_path: Path
) -> None:
    s = store.create_session(NewSession(source="cli"))
    blocker = raw(db_path)
    blocker.execute("BEGIN IMMEDIATE")  # the writer now retries BEGIN; callers pile up
    before = (store.counters.batches, store.counters.operations)
    threads, results = _in_threads(
        [functools.partial(store.append_message, s.id, Message.user(f"m{i}")) for i in range(50)]
    )
    assert wait_until(lambda: _queued(store) == 50, 10)
    blocker.execute("ROLLBACK")
    _join(threads)
    assert sorted(results) == list(range(1, 51))
    batches = store.counters.batches - before[0]
    operations = store.counters.operations - before[1]
    assert operations == 50
    assert batches <= 2  # the one in flight while blocked, then everything else at once


def test_one_bad_operation_fails_alone(store: SqliteStore, db_path: Path) -> None:
    a = store.create_session(NewSession(source="cli"))
    store.create_session(NewSession(source="cli", title="taken"))
    blocker = raw(db_path)
    blocker.execute("BEGIN IMMEDIATE")
    before = store.counters.batches
    calls: list[Callable[[], Any]] = [
        lambda: store.append_message(UNKNOWN, Message.user("lost")),
        lambda: store.rename(a.id, "taken"),
        lambda: store.create_session(NewSession(source="cli", title="taken")),
        lambda: store.end_session(UNKNOWN, SessionEnd("completed")),
        lambda: store.delete(UNKNOWN),
        lambda: store.create_session(NewSession(source="subagent", parent_id=UNKNOWN)),
        lambda: store.add_usage(a.id, Usage(input_tokens=7)),
        lambda: store.create_session(NewSession(source="subagent", parent_id=a.id)),
    ]
    calls += [
        functools.partial(store.append_message, a.id, Message.user(f"ok {i}")) for i in range(12)
    ]
    threads, results = _in_threads(calls)
    assert wait_until(lambda: _queued(store) == len(calls), 10)
    blocker.execute("ROLLBACK")
    _join(threads)
    assert isinstance(results[0], SessionNotFound)
    assert isinstance(results[1], StoreError) and "already used" in str(results[1])
    assert isinstance(results[2], StoreError) and "already used" in str(results[2])
    assert isinstance(results[3], SessionNotFound)
    assert isinstance(results[4], SessionNotFound)
    assert isinstance(results[5], SessionNotFound)
    assert results[6] is None
    assert results[7].parent_id == a.id
    assert sorted(results[8:]) == list(range(1, 13))
    assert store.counters.batches - before <= 2
    got = store.get_session(a.id)
    assert (got.input_tokens, got.message_count, got.title) == (7, 12, None)
    store.close()
    assert_gap_free(db_path)


def test_lock_held_briefly_by_another_process_is_waited_out(
    store: SqliteStore, db_path: Path
) -> None:
    s = store.create_session(NewSession(source="cli"))
    blocker = raw(db_path)
    blocker.execute("BEGIN IMMEDIATE")
    threads, results = _in_threads([lambda: store.append_message(s.id, Message.user("x"))])
    assert wait_until(lambda: _queued(store) == 1, 10)
    blocker.execute("ROLLBACK")
    _join(threads)
    assert results == [1]


def test_store_busy_after_the_budget(db_path: Path) -> None:
    store = SqliteStore(db_path, busy_budget=0.2)
    try:
        s = store.create_session(NewSession(source="cli"))
        blocker = raw(db_path)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy, match="busy_budget"):
            store.append_message(s.id, Message.user("x"))
        blocker.execute("ROLLBACK")
        assert store.append_message(s.id, Message.user("y")) == 1  # the store recovers
    finally:
        store.close()


def test_writer_death_fails_pending_and_later_calls(store: SqliteStore, db_path: Path) -> None:
    s = store.create_session(NewSession(source="cli"))
    blocker = raw(db_path)
    blocker.execute("BEGIN IMMEDIATE")
    threads, results = _in_threads(
        [functools.partial(store.append_message, s.id, Message.user(f"m{i}")) for i in range(10)]
    )
    assert wait_until(lambda: _queued(store) == 10, 10)

    def broken(live: object) -> None:
        raise RuntimeError("injected fault")

    store._writer._run_batch = broken  # type: ignore[method-assign]
    blocker.execute("ROLLBACK")
    _join(threads)  # nobody hangs
    failed = [r for r in results if isinstance(r, StoreError)]
    assert failed and len(failed) + sum(isinstance(r, int) for r in results) == 10
    assert all("stopped unexpectedly" in str(r) and "injected fault" in str(r) for r in failed)
    with pytest.raises(StoreError, match="stopped unexpectedly"):
        store.append_message(s.id, Message.user("later"))
    with pytest.raises(StoreError, match="stopped unexpectedly"):
        store.create_session(NewSession(source="cli"))
    store.close()  # returns


def test_eight_threads_two_thousand_appends_each(db_path: Path) -> None:
    threads_n, per_thread = 8, 2000
    store = SqliteStore(db_path)
    own = [store.create_session(NewSession(source="cli")).id for _ in range(threads_n)]
    shared = store.create_session(NewSession(source="cli")).id
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            last = 0
            for i in range(per_thread):
                sid = own[t] if i % 2 else shared
                seq = store.append_message(sid, Message.user(f"thread {t} item {i} payload"))
                if sid == own[t]:
                    assert seq > last
                    last = seq
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    _join(threads, 120)
    store.close()
    assert errors == []
    seqs = assert_gap_free(db_path)
    assert len(seqs[shared]) == threads_n * per_thread // 2
    assert all(len(seqs[sid]) == per_thread // 2 for sid in own)
    with raw(db_path) as conn:
        contents = {r[0] for r in conn.execute("SELECT content FROM messages")}
    assert contents == {
        f"thread {t} item {i} payload" for t in range(threads_n) for i in range(per_thread)
    }
    assert integrity(db_path) == "ok"
    total = threads_n * per_thread
    assert index_counts(db_path) == (total, total, total)
    assert fts_integrity_ok(db_path)


def test_group_commit_groups_under_real_load(store: SqliteStore) -> None:
    sids = [store.create_session(NewSession(source="cli")).id for _ in range(8)]
    before = (store.counters.batches, store.counters.operations)

    def appends(sid: str) -> None:
        for _ in range(300):
            store.append_message(sid, Message.user("x"))

    threads, _ = _in_threads([functools.partial(appends, sid) for sid in sids])
    _join(threads)
    batches = store.counters.batches - before[0]
    operations = store.counters.operations - before[1]
    assert operations == 2400
    assert batches < operations / 2  # on average more than two appends per transaction


async def test_async_writes_never_block_the_loop(store: SqliteStore) -> None:
    s = await store.acreate_session(NewSession(source="api", title="async"))
    seqs = await asyncio.gather(
        *(store.aappend_message(s.id, Message.user(f"m{i}")) for i in range(200))
    )
    assert sorted(seqs) == list(range(1, 201))
    await store.aadd_usage(s.id, Usage(input_tokens=3), api_calls=1)
    await store.aend_session(s.id, SessionEnd("completed"))
    again = await store.areopen_session(s.id)
    assert again.status == "running"
    with pytest.raises(SessionNotFound):
        await store.aappend_message(UNKNOWN, Message.user("x"))
    got = await to_thread(store.get_session, s.id)
    assert (got.message_count, got.input_tokens, got.api_calls) == (200, 3, 1)
