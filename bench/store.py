"""Session-store append throughput and latency, against raw SQLite measured in the same run.

Baselines (one connection, no threads, the same schema and FTS5 indexes):

* ``raw batched, FTS by triggers``: ``executemany`` of 1,000-row batches with
  insert triggers keeping both indexes current, the conventional way;
* ``raw batched, FTS in bulk``: the same inserts, then one ``INSERT … SELECT``
  per index per batch: the fastest way this disk and SQLite can take rows that
  end up indexed (the physical limit).

Then the store through its public API: 1, 8 and 32 threads in this process, and
4 processes × 4 threads on one file.  Every thread appends to its own session
and times each ``append_message`` call (the call returns after COMMIT).  The
store defers search indexing to the writer's idle moments / 512-row chunks, so
the append rate and the indexing rate are reported separately, plus the time
from the last append until everything is searchable.

    uv run python bench/store.py [--appends 16000] [--no-processes]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from talaria.store.base import NewSession
from talaria.store.sqlite import SqliteStore
from talaria.types import Message

WORDS = [
    "the",
    "agent",
    "tool",
    "call",
    "session",
    "database",
    "writer",
    "commit",
    "search",
    "index",
    "file",
    "read",
    "write",
    "error",
    "test",
    "config",
    "loader",
    "parse",
    "run",
    "result",
    "model",
    "token",
    "delegate",
    "child",
    "parent",
    "task",
    "queue",
    "thread",
    "process",
    "lock",
    "retry",
    "budget",
    "status",
    "message",
    "content",
    "summary",
    "report",
]


def texts(n: int, seed: int = 7) -> list[str]:
    """Chat-like messages, 60–400 characters, with an identifier now and then."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(10, 60))
        if i % 5 == 0:
            words.append(f"src/pkg_{rng.randint(0, 999)}/mod.py:{rng.randint(1, 500)}")
        out.append(" ".join(words))
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_rate(texts_: list[str], *, triggers: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.db"
        SqliteStore(path).close()  # the same schema and indexes as the store
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("INSERT INTO sessions (id, root_id, source, started_at, updated_at)"
                     " VALUES ('s', 's', 'cli', 0, 0)")  # fmt: skip
        if triggers:
            conn.execute(
                "CREATE TRIGGER ai AFTER INSERT ON messages BEGIN"
                " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);"
                " INSERT INTO messages_tri (rowid, content) VALUES (new.id, new.content); END"
            )
        started = time.perf_counter()
        for lo in range(0, len(texts_), 1000):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO messages (session_id, seq, role, content, created_at)"
                " VALUES ('s', ?, 'user', ?, 0)",
                [(lo + i + 1, t) for i, t in enumerate(texts_[lo : lo + 1000])],
            )
            if not triggers:  # ids are lo+1 … lo+batch in a fresh table
                for table in ("messages_fts", "messages_tri"):
                    conn.execute(
                        f"INSERT INTO {table} (rowid, content) SELECT id, content FROM messages"
                        " WHERE id > ?",
                        (lo,),
                    )
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return len(texts_) / elapsed


def in_process(texts_: list[str], n_threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        store = SqliteStore(path)
        sids = [store.create_session(NewSession(source="cli")).id for _ in range(n_threads)]
        per = len(texts_) // n_threads
        latencies: list[list[float]] = [[] for _ in range(n_threads)]
        msgs = [Message.user(t) for t in texts_]
        start = threading.Barrier(n_threads + 1)

        def work(t: int) -> None:
            lat = latencies[t]
            start.wait()
            for m in msgs[t * per : (t + 1) * per]:
                t0 = time.perf_counter()
                store.append_message(sids[t], m)
                lat.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        start.wait()
        t0 = time.perf_counter()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t0
        total = per * n_threads
        done = store.counters
        batches, ops = done.batches, done.operations
        while store.counters.rows_indexed < total:  # deferred indexing catching up
            time.sleep(0.005)
        catch_up = time.perf_counter() - t0 - elapsed
        c = store.counters
        wal = store.stats().wal_bytes / 2**20
        store.close()
    flat = [x for lat in latencies for x in lat]
    return {
        "rate": total / elapsed,
        "p50": _pct(flat, 0.5) * 1e3,
        "p99": _pct(flat, 0.99) * 1e3,
        "batch": ops / max(batches, 1),
        "index_rate": c.rows_indexed / max(c.index_seconds, 1e-9),
        "catch_up": catch_up,
        "wal": wal,
    }


CHILD = r"""
import json, sys, threading, time
from pathlib import Path
from talaria.store.base import NewSession
from talaria.store.sqlite import SqliteStore
from talaria.types import Message
path, n_threads, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
texts = json.loads(sys.stdin.read())
store = SqliteStore(path)
sids = [store.create_session(NewSession(source="cli")).id for _ in range(n_threads)]
per = len(texts) // n_threads
lat = [[] for _ in range(n_threads)]
def work(t):
    for text in texts[t * per:(t + 1) * per]:
        t0 = time.perf_counter()
        store.append_message(sids[t], Message.user(text))
        lat[t].append(time.perf_counter() - t0)
threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
start = time.time()
for th in threads: th.start()
for th in threads: th.join()
end = time.time()
store.close()
print(json.dumps({"start": start, "end": end, "lat": [x for l in lat for x in l]}), flush=True)
"""


def multi_process(texts_: list[str], n_procs: int, n_threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path, go = Path(tmp) / "state.db", Path(tmp) / "go"
        SqliteStore(path).close()
        per = len(texts_) // n_procs
        procs = []
        for p in range(n_procs):
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(path), str(n_threads), str(go)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(texts_[p * per : (p + 1) * per]))
            proc.stdin.close()
            procs.append(proc)
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        go.touch()
        reports = []
        for proc in procs:
            assert proc.stdout is not None
            reports.append(json.loads(proc.stdout.readline()))
            proc.wait()
    elapsed = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    flat = [x for r in reports for x in r["lat"]]
    return {
        "rate": len(flat) / elapsed,
        "p50": _pct(flat, 0.5) * 1e3,
        "p99": _pct(flat, 0.99) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=16000, help="appends per configuration")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (median shown)")
    parser.add_argument("--no-processes", action="store_true")
    args = parser.parse_args()
    data = texts(args.appends)
    mean = statistics.mean(map(len, data))
    print(f"SQLite {sqlite3.sqlite_version}, {args.appends} messages of {mean:.0f} chars on")
    print(f"average; median of {args.rounds} runs")

    def median_of(fn: object) -> dict[str, float]:
        assert callable(fn)
        runs = [fn() for _ in range(args.rounds)]
        return {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    trig = median_of(lambda: {"rate": raw_rate(data, triggers=True)})["rate"]
    bulk = median_of(lambda: {"rate": raw_rate(data, triggers=False)})["rate"]
    print(f"raw batched, FTS by triggers : {trig:9,.0f} rows/s")
    print(f"raw batched, FTS in bulk     : {bulk:9,.0f} rows/s   (the physical limit)")
    print()
    print("store (append returns after COMMIT; indexing deferred, reported separately)")
    header = f"{'config':>16} {'appends/s':>10} {'vs bulk':>8} {'vs trig':>8} {'p50 ms':>7}"
    print(
        header + f" {'p99 ms':>7} {'ops/txn':>8} {'index rows/s':>13} {'catch-up s':>10}"
        f" {'WAL MiB':>8}"
    )
    for n in (1, 8, 32):
        r = median_of(lambda n=n: in_process(data, n))
        print(
            f"{f'{n} thread(s)':>16} {r['rate']:10,.0f} {r['rate'] / bulk:8.0%} "
            f"{r['rate'] / trig:8.0%} {r['p50']:7.2f} {r['p99']:7.2f} {r['batch']:8.1f} "
            f"{r['index_rate']:13,.0f} {r['catch_up']:10.2f} {r['wal']:8.1f}"
        )
    if not args.no_processes:
        r = median_of(lambda: multi_process(data, 4, 4))
        print(
            f"{'4 procs x 4 thr':>16} {r['rate']:10,.0f} {r['rate'] / bulk:8.0%} "
            f"{r['rate'] / trig:8.0%} {r['p50']:7.2f} {r['p99']:7.2f}"
        )
    print("\ntargets: 8 threads >= 65% of raw and >= 12,000/s; 4x4 >= 8,000/s; p99 < 50 ms")


if __name__ == "__main__":
    main()
