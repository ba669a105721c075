"""The session store across real processes: concurrent writers on one file, and SIGKILL."""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.store import assert_gap_free, fts_integrity_ok, index_counts, integrity, raw
from talaria.store.base import NewSession
from talaria.store.sqlite import SqliteStore

WRITER = r"""
import json, sys, threading, time
from pathlib import Path
from talaria.store.base import NewSession
from talaria.store.sqlite import SqliteStore
from talaria.types import Message

path, shared, tag, go = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[6])
n_threads, n = int(sys.argv[4]), int(sys.argv[5])
store = SqliteStore(path)
own = [store.create_session(NewSession(source="cli")).id for _ in range(n_threads)]
errors = []
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)

def work(t):
    try:
        for i in range(n):
            sid = shared if i % 2 else own[t]
            store.append_message(sid, Message.user(f"{tag} thread {t} item {i}"))
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
store.close()
print(json.dumps({"own": own, "errors": errors}), flush=True)
"""

STREAMER = r"""
import sys, threading
from pathlib import Path
from talaria.store.base import NewSession
from talaria.store.sqlite import SqliteStore
from talaria.types import Message

store = SqliteStore(Path(sys.argv[1]))
sid = store.create_session(NewSession(source="run")).id
print("session", sid, flush=True)
lock = threading.Lock()

def work(t):
    i = 0
    while True:
        seq = store.append_message(sid, Message.user(f"streamed {t}-{i} " + "words " * (i % 40)))
        with lock:
            print(seq, flush=True)
        i += 1

threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(2)]
for t in threads:
    t.start()
threads[0].join()
"""


class _Lines:
    """Reads a child's stdout line by line with a deadline (a hung child fails, never hangs)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._fd, selectors.EVENT_READ)
        self._buf = b""

    def next(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            assert left > 0, "child produced no line in time"
            if self._sel.select(left):
                chunk = os.read(self._fd, 65536)
                assert chunk, "child exited early"
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()


def _spawn(script: str, *args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE)


def test_four_processes_four_threads_each_on_one_file(tmp_path: Path) -> None:
    db, go = tmp_path / "state.db", tmp_path / "go"
    n_procs, n_threads, per_thread = 4, 4, 500
    store = SqliteStore(db)
    shared = store.create_session(NewSession(source="cli", title="shared")).id
    store.close()
    procs = [_spawn(WRITER, db, shared, f"p{p}", n_threads, per_thread, go) for p in range(n_procs)]
    try:
        lines = [_Lines(p) for p in procs]
        for reader in lines:
            assert reader.next(60) == "ready"
        go.touch()
        reports = [json.loads(reader.next(120)) for reader in lines]
        for p in procs:
            assert p.wait(30) == 0
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [r["errors"] for r in reports] == [[]] * n_procs
    seqs = assert_gap_free(db)
    total = n_procs * n_threads * per_thread
    assert len(seqs[shared]) == total // 2
    for r in reports:
        assert all(len(seqs[sid]) == per_thread // 2 for sid in r["own"])
    with raw(db) as conn:
        contents = {row[0] for row in conn.execute("SELECT content FROM messages")}
    assert contents == {
        f"p{p} thread {t} item {i}"
        for p in range(n_procs)
        for t in range(n_threads)
        for i in range(per_thread)
    }
    assert integrity(db) == "ok"
    assert index_counts(db) == (total, total, total)
    assert fts_integrity_ok(db)


def test_sigkill_mid_stream_loses_no_committed_row(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    rng = random.Random(1234)
    committed: dict[str, set[int]] = {}
    for _ in range(20):
        proc = _spawn(STREAMER, db)
        try:
            reader = _Lines(proc)
            head = reader.next(60).split()
            assert head[0] == "session"
            sid = head[1]
            seen = committed.setdefault(sid, set())
            for _ in range(rng.randint(1, 60)):
                seen.add(int(reader.next()))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert integrity(db) == "ok"

    store = SqliteStore(db)  # the first open after the last kill
    try:
        for sid, seqs in committed.items():
            stored = {m.seq for m in store.messages(sid)}
            assert seqs <= stored, f"{sid}: committed rows lost: {sorted(seqs - stored)}"
            assert store.get_session(sid).status == "orphaned"
    finally:
        store.close()
    assert integrity(db) == "ok"
    assert_gap_free(db)
    counts = index_counts(db)
    assert counts[0] == counts[1] == counts[2]
    assert fts_integrity_ok(db)
