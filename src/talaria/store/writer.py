"""The store's single writer thread: queue, group commit, busy retry, maintenance.

Why one writer: SQLite allows one writer per database at a time anyway.  Many
threads each opening write transactions only fight over that lock (Hermes'
"database is locked" and 20 s freezes).  Here every write is an operation on a
queue; one thread owning the only write connection drains *everything* queued
into one ``BEGIN IMMEDIATE … COMMIT`` (group commit) and resolves each caller's
future only after COMMIT, so a result means "durable".

Isolation inside a batch: appends are validated before their rows are buffered
(an unknown session fails only that append); every other operation runs inside
its own SAVEPOINT, so a failing one (duplicate title, unknown id) is rolled back
alone and its neighbours still commit.

Against other processes: ``busy_timeout`` is 0 on this connection and
``BEGIN IMMEDIATE`` is retried here with jittered exponential backoff (0.1 ms up
to 2 ms) until ``busy_budget`` seconds have passed; SQLite's own busy handler
sleeps in 1–100 ms steps, far too coarse for handing the lock between writers.
After the budget the batch fails with StoreBusy.

Maintenance between batches: search indexing of the rows above the watermark
(see ``schema._m0002_search``) when the queue is idle, or once 512 rows or
0.25 s of backlog have accumulated, in chunks of at most 512 rows so a waiting
append is never held up for long; and a PASSIVE WAL checkpoint on idle and, under
load, every 200 commits or every second, whichever comes first (SQLite's
auto-checkpoint is off on this connection, so that cost never lands inside a
caller's commit).  Commits are counted rather than timed because each small
transaction rewrites whole pages: at 5,000 commits/s a once-a-second checkpoint
let the WAL reach 50 MiB.
"""

from __future__ import annotations

import queue
import random
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

from talaria.concurrency import spawn_thread
from talaria.store import ops
from talaria.store.base import StoreBusy, StoreError
from talaria.store.liveness import ProcessIdent
from talaria.store.schema import migrate, open_write_connection
from talaria.store.writeop import (
    CLOSE,
    FlushFailed,
    TransactionLost,
    WriteOp,
    WriterCounters,
    as_store_error,
    is_busy,
    rollback,
)

MAX_BATCH = 1024
LINGER = 0.0002
INDEX_ROWS = 512
INDEX_AGE = 0.25
INDEX_CHUNK = 512
IDLE_WAIT = 0.5
IDLE_WAIT_BACKLOG = 0.002
CHECKPOINT_EVERY = 1.0
CHECKPOINT_COMMITS = 200
CLOSE_INDEX_BUDGET = 5.0
_BACKOFF_FIRST = 0.0001
_BACKOFF_MAX = 0.002


class Writer:
    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["normal", "full"],
        busy_budget: float,
        ident: ProcessIdent,
    ) -> None:
        self.path = path
        self.counters = WriterCounters()
        self._sync = synchronous.upper()
        self._budget = busy_budget
        self._ident = ident
        self._q: queue.SimpleQueue[WriteOp] = queue.SimpleQueue()
        self._conn: sqlite3.Connection | None = None
        self._dead: StoreError | None = None
        self._closing = False
        self._inflight: list[WriteOp] = []
        self._backlog_rows = 0
        self._backlog_since: float | None = None
        self._last_checkpoint = time.monotonic()
        self._commits = 0  # commits since the last checkpoint
        self._last_batch = 1
        self._opened: Future[None] = Future()
        self._thread = spawn_thread(self._main, name=f"talaria-store-writer:{path.name}")
        self._opened.result()  # re-raises open errors (e.g. a database from a newer Talaria)

    # -- caller side ---------------------------------------------------------------
    def submit(
        self, fn: Callable[..., Any] | None, args: tuple[Any, ...], *, future: bool = False
    ) -> WriteOp:
        """Queue a write from any thread; never blocks.  ``future``: for async callers."""
        if self._dead is not None or self._closing:
            raise self._error()
        op = WriteOp(fn, args, Future() if future else None)
        self._q.put(op)
        if not self.running:  # the writer exited after our check: nobody else will drain
            self._drain_failed()
        return op

    def close(self) -> None:
        if self._closing:
            self._thread.join()
            return
        self._closing = True
        self._q.put(CLOSE)
        self._thread.join()

    @property
    def running(self) -> bool:
        """False once the writer thread has stopped (closed or died)."""
        return self._dead is None

    def _error(self) -> StoreError:
        if self._dead is not None:
            return StoreError(str(self._dead))
        return StoreError(f"the session store {self.path} is closed")

    def _drain_failed(self) -> None:
        while True:
            try:
                op = self._q.get_nowait()
            except queue.Empty:
                return
            if op is not CLOSE:
                op.resolve(False, self._error())

    # -- the thread ----------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._open()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that opened us
            err = exc
            if isinstance(exc, sqlite3.Error):
                err = StoreError(f"{self.path}: cannot open the session database: {exc}")
                err.__cause__ = exc
            self._dead = err if isinstance(err, StoreError) else StoreError(repr(err))
            self._opened.set_exception(err)
            self._close_conn()
            return
        self._opened.set_result(None)
        try:
            self._loop()
            self._dead = StoreError(f"the session store {self.path} is closed")
        except BaseException as exc:  # noqa: BLE001 - recorded; every caller gets it
            self._dead = StoreError(
                f"the session store writer for {self.path} stopped unexpectedly: {exc!r}; "
                "reopen the store"
            )
            self._dead.__cause__ = exc
        finally:
            for op in self._inflight:
                if op is not CLOSE:
                    op.resolve(False, self._error())
            self._drain_failed()
            self._close_conn()

    def _open(self) -> None:
        conn = open_write_connection(self.path, self._sync, self._budget)
        self._conn = conn
        migrate(conn, lambda: self._begin(time.monotonic() + self._budget), where=str(self.path))
        self._begin(time.monotonic() + self._budget)
        try:
            self.counters.orphans_marked = ops.sweep_orphans(conn, self._ident)
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        if ops.backlog_exists(conn):
            self._backlog_rows = INDEX_ROWS
            self._backlog_since = time.monotonic()

    def _loop(self) -> None:
        q = self._q
        while True:
            wait = IDLE_WAIT if self._backlog_since is None else IDLE_WAIT_BACKLOG
            try:
                first = q.get(timeout=wait)
            except queue.Empty:
                self._maintain(idle=True)
                continue
            batch = self._inflight = [first]  # from here on, a dying writer fails them
            stop = first is CLOSE
            linger_until = time.perf_counter() + LINGER
            while not stop and len(batch) < MAX_BATCH:
                try:
                    op = q.get_nowait()
                except queue.Empty:
                    if len(batch) >= self._last_batch or time.perf_counter() > linger_until:
                        break
                    time.sleep(0)  # let the callers of the last batch submit their next ops
                    continue
                stop = op is CLOSE
                batch.append(op)
            self._last_batch = len(batch)
            live = [op for op in batch if op is not CLOSE and op.start()]
            if live:
                self._run_batch(live)
            self._inflight = []
            if stop:
                self._shutdown()
                return
            self._maintain(idle=False)

    # -- transactions ----------------------------------------------------------------
    def _begin(self, deadline: float) -> None:
        conn = self._connection()
        delay = _BACKOFF_FIRST
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusy(
                        f"{self.path} stayed locked by another process for "
                        f"{self._budget:g}s (store.busy_budget); the write was not made"
                    ) from exc
                time.sleep(min(left, delay * random.uniform(0.5, 1.5)))
                delay = min(delay * 2, _BACKOFF_MAX)

    def _run_batch(self, live: list[WriteOp]) -> None:
        conn = self._connection()
        deadline = time.monotonic() + self._budget
        careful = False  # True after an unexpected flush failure: isolate every append
        while True:
            try:
                self._begin(deadline)
            except StoreError as exc:
                for op in live:
                    op.resolve(False, exc)
                return
            tx = ops.Tx(conn, self._ident)
            try:
                outcomes = self._run_ops(tx, live, careful)
                conn.execute("COMMIT")
                break
            except FlushFailed:
                rollback(conn)
                careful = True
            except (sqlite3.Error, TransactionLost) as exc:
                rollback(conn)
                cause = exc.__cause__ if isinstance(exc, TransactionLost) else exc
                if isinstance(cause, sqlite3.Error) and is_busy(cause):
                    if time.monotonic() < deadline:
                        continue
                    error: StoreError = StoreBusy(f"{self.path}: {cause}")
                else:
                    error = StoreError(f"{self.path}: the write transaction failed: {cause}")
                for op in live:
                    op.resolve(False, error)
                return
        self._commits += 1
        c = self.counters
        c.batches += 1
        c.operations += len(live)
        appended = sum(
            1 for op, (ok, _) in zip(live, outcomes, strict=True) if ok and op.fn is None
        )
        if appended:
            c.rows_appended += appended
            self._backlog_rows += appended
            if self._backlog_since is None:
                self._backlog_since = time.monotonic()
        for op, (ok, value) in zip(live, outcomes, strict=True):
            op.resolve(ok, value)

    def _run_ops(self, tx: ops.Tx, live: list[WriteOp], careful: bool) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        if not careful:
            tx.prefetch({op.args[0] for op in live if op.fn is None})
        for op in live:
            if op.fn is None and not careful:
                try:
                    outcomes.append((True, tx.append(*op.args)))
                except StoreError as exc:
                    outcomes.append((False, exc))
                continue
            self._flush(tx)
            outcomes.append(self._isolated(tx, op.fn or _append_now, op.args))
        self._flush(tx)
        return outcomes

    def _flush(self, tx: ops.Tx) -> None:
        """Insert the buffered appends.  They were validated, so failure is unexpected:
        the batch is then rolled back and redone with every append isolated."""
        try:
            tx.flush()
        except (sqlite3.Error, ValueError, TypeError) as exc:
            if not tx.conn.in_transaction:
                raise TransactionLost() from exc
            raise FlushFailed() from exc

    def _isolated(
        self, tx: ops.Tx, fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> tuple[bool, Any]:
        conn = tx.conn
        conn.execute("SAVEPOINT op")
        try:
            value = fn(tx, *args)
        except Exception as exc:
            if not conn.in_transaction:
                raise TransactionLost() from exc
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            tx.discard()
            return False, as_store_error(exc)
        conn.execute("RELEASE op")
        if fn is not _append_now:
            tx.invalidate()  # e.g. a delete: cached numbering may name a session that is gone
        return True, value

    # -- maintenance -------------------------------------------------------------------
    def _maintain(self, *, idle: bool) -> None:
        """Index and checkpoint; their failures are recorded, never fatal to writes."""
        try:
            self._maintain_once(idle=idle)
        except sqlite3.Error as exc:
            rollback(self._connection())
            self.counters.maintenance_errors += 1
            self.counters.last_maintenance_error = str(exc)
            self._last_checkpoint = time.monotonic()  # do not retry in a tight loop

    def _maintain_once(self, *, idle: bool) -> None:
        now = time.monotonic()
        since = self._backlog_since
        if since is not None and (
            idle or self._backlog_rows >= INDEX_ROWS or now - since >= INDEX_AGE
        ):
            self._index(INDEX_CHUNK)
        elif idle and since is None and ops.backlog_exists(self._connection()):
            self._backlog_since = now  # left by another process: index on the next idle turn
        if self._commits and (
            idle
            or self._commits >= CHECKPOINT_COMMITS
            or now - self._last_checkpoint >= CHECKPOINT_EVERY
        ):
            self._checkpoint("PASSIVE")

    def _index(self, limit: int) -> bool:
        """Index one chunk; returns True when more backlog remains."""
        conn = self._connection()
        started = time.monotonic()
        try:
            self._begin(started + min(self._budget, 1.0))
        except StoreBusy:
            return True  # another writer is busy; try again on a later turn
        try:
            n, more = ops.index_backlog(conn, limit)
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
        c = self.counters
        c.index_runs += 1
        c.rows_indexed += n
        c.index_seconds += time.monotonic() - started
        self._commits += 1
        if more:
            self._backlog_rows = max(self._backlog_rows - n, 1)
        else:
            self._backlog_rows = 0
            self._backlog_since = None
        return more

    def _checkpoint(self, mode: Literal["PASSIVE", "TRUNCATE"]) -> None:
        self._connection().execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        self.counters.checkpoints += 1
        self._commits = 0
        self._last_checkpoint = time.monotonic()

    def _shutdown(self) -> None:
        deadline = time.monotonic() + CLOSE_INDEX_BUDGET
        while self._backlog_since is not None and time.monotonic() < deadline:
            self._index(INDEX_CHUNK * 8)
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout = {int(min(self._budget, 2.0) * 1000)}")
        try:
            self._checkpoint("TRUNCATE")
        except sqlite3.OperationalError:
            self._checkpoint("PASSIVE")  # readers elsewhere: the WAL stays, but is checkpointed

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _close_conn(self) -> None:
        if self._conn is not None:
            rollback(self._conn)
            self._conn.close()
            self._conn = None


def _append_now(tx: ops.Tx, session_id: str, row: Any, n_calls: int) -> int:
    seq = tx.append(session_id, row, n_calls)
    tx.flush()
    return seq
