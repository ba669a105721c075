"""Session search and listing over a large history (default 1,000,000 messages).

The history is generated straight into the store's schema with raw bulk inserts
(fast, not what is measured), indexed in the same 512-row chunks the store's
writer uses (so the FTS5 segment structure is the one a real history has), and
then every figure is measured through the public ``SqliteStore`` API:
``search`` by query kind and ``list_sessions`` with and without filters.

Messages are Zipf-distributed words (so common words match a large share of
the history, as in real text), with identifiers, file paths, CJK sentences and
long tool outputs mixed in.  Sessions hold 50 messages each.

    uv run python bench/store_search.py [--messages 1000000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import bisect
import functools
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from talaria.store.sqlite import SqliteStore

# 90 consonant-vowel syllables: word shapes and a trigram spread roughly like
# English (a 15-syllable alphabet made every trigram list absurdly long).
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
COMMON = [
    "the",
    "to",
    "of",
    "and",
    "a",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "this",
    "be",
    "are",
    "not",
    "run",
    "file",
    "test",
]
CJK = "数据库连接池已经满了需要增加数量配置文件加载器重构测试运行结果模型工具调用会话"


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


class Generator:
    def __init__(self, seed: int = 11, vocab: int = 30_000) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(vocab, self.rng)
        self.cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(vocab)))

    def word(self) -> str:
        return self.words[bisect.bisect(self.cum, self.rng.random() * self.cum[-1])]

    def message(self, i: int) -> str:
        rng = self.rng
        kind = i % 100
        if kind < 2:
            start = rng.randrange(len(CJK) - 12)
            return CJK[start : start + rng.randint(6, 12)] + " " + self.word()
        words = rng.choices(self.words, cum_weights=self.cum, k=rng.randint(5, 60))
        if kind < 12:
            words.append(f"{self.word()}_{self.word()}.{self.word()}_{rng.randint(0, 99)}")
        if kind < 17:
            words.append(f"src/{self.word()}/{self.word()}.py:{rng.randint(1, 900)}")
        if kind > 95:  # a long tool output
            words = rng.choices(self.words, cum_weights=self.cum, k=rng.randint(200, 400))
        return " ".join(words)


def build(path: Path, n_messages: int, gen: Generator) -> None:
    SqliteStore(path).close()  # the real schema, migrations applied
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    per_session = 50
    n_sessions = max(1, n_messages // per_session)
    sources = ["cli", "run", "subagent", "telegram", "api"]
    statuses = ["completed"] * 8 + ["failed", "interrupted"]
    t0 = time.time() - n_sessions * 60.0
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, root_id, source, title, status, started_at, ended_at,"
        " updated_at, message_count) VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?5 + 30, ?5 + 30, ?6)",
        (
            (f"{s:016x}", sources[s % 5], f"session {s}" if s % 3 == 0 else None,
             statuses[s % 10], t0 + s * 60.0, per_session)
            for s in range(n_sessions)
        ),
    )  # fmt: skip
    conn.execute("COMMIT")
    for lo in range(0, n_messages, 50_000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (session_id, seq, role, content, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                (f"{(i // per_session) % n_sessions:016x}", i % per_session + 1,
                 ("user", "assistant", "tool")[i % 3], gen.message(i), t0 + i)
                for i in range(lo, min(lo + 50_000, n_messages))
            ),
        )  # fmt: skip
        conn.execute("COMMIT")
    for lo in range(0, n_messages, 512):  # the writer's chunking
        conn.execute("BEGIN")
        for table in ("messages_fts", "messages_tri"):
            conn.execute(
                f"INSERT INTO {table} (rowid, content) SELECT id, content FROM messages"
                " WHERE id > ? AND id <= ?",
                (lo, lo + 512),
            )
        conn.execute("UPDATE search_state SET indexed_upto = ?", (min(lo + 512, n_messages),))
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def queries(gen: Generator, path: Path) -> dict[str, list[str]]:
    """Realistic queries (words, phrases and substrings taken from stored messages)
    and, marked worst case, adversarial ones."""
    w = gen.words
    rng = random.Random(5)
    conn = sqlite3.connect(path)
    top = conn.execute("SELECT max(id) FROM messages").fetchone()[0]

    def sample(pred: Callable[[str], bool], make: Callable[[str], str], n: int = 10) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            text = conn.execute(
                "SELECT content FROM messages WHERE id = ?", (rng.randint(1, top),)
            ).fetchone()[0]
            if text and pred(text):
                out.append(make(text))
        return out

    def phrase(text: str) -> str:
        toks = text.split()
        k = rng.randrange(len(toks) - 1)
        return f'"{toks[k]} {toks[k + 1]}"'

    def substring(text: str) -> str:
        k = rng.randrange(len(text) - 8)
        return text[k : k + 8].strip() or text[:8]

    def identifier(text: str) -> str:
        return next(t for t in text.split() if "_" in t and "." in t)

    def ident_part(text: str) -> str:
        ident = identifier(text)
        return ident[2:-2]

    qs = {
        "common word": COMMON[:10],
        "mid-frequency word": [w[rng.randint(100, 1000)] for _ in range(10)],
        "rare word": [w[rng.randint(10_000, 29_999)] for _ in range(10)],
        "two words": [f"{w[rng.randint(20, 500)]} {w[rng.randint(20, 2000)]}" for _ in range(10)],
        "phrase": sample(lambda t: len(t.split()) > 3, phrase),
        "prefix": [w[rng.randint(100, 3000)][:4] + "*" for _ in range(10)],
        "substring (trigram)": sample(lambda t: len(t) > 20 and t.isascii(), substring),
        "identifier": sample(lambda t: any("_" in x and "." in x for x in t.split()), identifier),
        "identifier part": sample(
            lambda t: any("_" in x and "." in x for x in t.split()), ident_part
        ),
        "CJK (trigram)": [CJK[i : i + 3] for i in range(0, 30, 3)],
        "hostile": ['"', "foo-bar (", "AND", "a OR", "*", "", "NEAR(", "x:y", "((", "NOT"],
        "worst: stopword phrase": [f'"{COMMON[i]} {COMMON[i + 1]}"' for i in range(10)],
    }
    conn.close()
    return qs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database at this path")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gen = Generator()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "state.db"
        if not path.exists():
            t = time.perf_counter()
            build(path, args.messages, gen)
            print(f"generated {args.messages:,} messages in {time.perf_counter() - t:.0f} s")
        store = SqliteStore(path)
        try:
            stats = store.stats()
            size = stats.db_bytes / 2**20
            print(f"{stats.messages:,} messages in {stats.sessions:,} sessions, {size:,.0f} MiB;")
            print(f"SQLite {sqlite3.sqlite_version}")
            store.search("warm up the page cache")
            everything: list[float] = []
            worst: list[float] = []
            print(
                f"\n{'search (limit 20)':>22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'hits':>5}"
            )
            for kind, qs in queries(gen, path).items():
                times: list[float] = []
                hits = 0
                for q in qs:
                    times += timed(functools.partial(store.search, q, limit=20), args.repeat)
                    hits += len(store.search(q, limit=20))
                (worst if kind.startswith("worst") else everything).extend(times)
                print(f"{kind:>22} {pct(times, 0.5):8.1f} {pct(times, 0.95):8.1f} "
                      f"{max(times):8.1f} {hits / len(qs):5.0f}")  # fmt: skip
            print(f"{'all but worst':>22} {pct(everything, 0.5):8.1f} "
                  f"{pct(everything, 0.95):8.1f} {max(everything):8.1f}")  # fmt: skip
            print(f"\n{'listing':>22} {'p50 ms':>8} {'p95 ms':>8}")
            for label, fn in (
                ("list_sessions()", lambda: store.list_sessions()),
                ("--source telegram", lambda: store.list_sessions(source="telegram")),
                ("--status failed", lambda: store.list_sessions(status="failed")),
                ("resolve(title)", lambda: store.resolve("session 999")),
                ("resolve(id)", lambda: store.resolve(f"{999:016x}")),
                ("messages(50)", lambda: store.messages(f"{7:016x}")),
            ):
                times = timed(fn, 50)
                print(f"{label:>22} {pct(times, 0.5):8.2f} {pct(times, 0.95):8.2f}")
            print(f"{'stats()':>22} {statistics.median(timed(store.stats, 5)):8.1f}")
        finally:
            store.close()
    print("\ntargets: search p95 < 100 ms, list < 50 ms")


if __name__ == "__main__":
    main()
