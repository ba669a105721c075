"""Orphan detection: sessions left ``running`` by dead processes, pid reuse included."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from helpers.procs import wait_until
from helpers.store import raw
from talaria.store.base import NewSession
from talaria.store.liveness import current_process, process_is_gone, start_token
from talaria.store.sqlite import SqliteStore

CREATE_AND_EXIT = """
import os, sys
from pathlib import Path
from talaria.store.base import NewSession
from talaria.store.sqlite import SqliteStore
store = SqliteStore(Path(sys.argv[1]))
s = store.create_session(NewSession(source="run", title="left behind"))
store.close()
print(s.id, flush=True)
os._exit(0)
"""


def test_session_of_an_exited_process_is_marked_orphaned(db_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CREATE_AND_EXIT, str(db_path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    sid = out.stdout.strip()
    store = SqliteStore(db_path)
    try:
        s = store.get_session(sid)
        assert s.status == "orphaned"
        assert s.ended_at is not None
        assert s.end_reason is not None and "exited" in s.end_reason
        assert store.counters.orphans_marked == 1
    finally:
        store.close()


def test_live_processes_reused_pids_and_other_hosts(db_path: Path) -> None:
    me = current_process()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert wait_until(lambda: start_token(sleeper.pid) is not None, 10)
        SqliteStore(db_path).close()
        now = time.time()
        rows = [
            ("aaaa000000000001", me.pid, me.host, me.start),  # this very process
            ("aaaa000000000002", sleeper.pid, me.host, start_token(sleeper.pid)),  # alive
            ("aaaa000000000003", me.pid, me.host, "another-boot/12345"),  # pid reused
            ("aaaa000000000004", 999_999_999, me.host, None),  # no such pid
            ("aaaa000000000005", 999_999_999, "elsewhere", None),  # other host: unknowable
        ]
        with raw(db_path) as conn:
            conn.executemany(
                "INSERT INTO sessions (id, root_id, source, started_at, updated_at, pid, host,"
                " proc_start) VALUES (?1, ?1, 'cli', ?5, ?5, ?2, ?3, ?4)",
                [(*r, now) for r in rows],
            )
        store = SqliteStore(db_path)
        try:
            status = {s.id: s.status for s in store.list_sessions()}
        finally:
            store.close()
        assert status == {
            "aaaa000000000001": "running",
            "aaaa000000000002": "running",
            "aaaa000000000003": "orphaned",
            "aaaa000000000004": "orphaned",
            "aaaa000000000005": "running",
        }
    finally:
        sleeper.kill()
        sleeper.wait()


def test_process_is_gone() -> None:
    me = current_process()
    assert me.host == socket.gethostname()
    assert not process_is_gone(os.getpid(), me.start)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = start_token(child.pid)
    assert wait_until(lambda: process_is_gone(child.pid, token), 10)  # a zombie counts as gone
    child.wait()
    assert process_is_gone(child.pid, token)


def test_sessions_record_their_process(store: SqliteStore) -> None:
    s = store.create_session(NewSession(source="cli"))
    me = current_process()
    assert (s.pid, s.host) == (me.pid, me.host)
