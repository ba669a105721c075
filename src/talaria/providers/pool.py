"""One HTTP client per endpoint, shared by every run in the process.

Clients are expensive to build (an SSL context loads the CA bundle) and
building them concurrently is where a thread-pool agent raced: two threads built
two clients and one leaked.  Here each client is built once under a lock
(double-checked: the fast path is a plain dict read), handed out as *leases*,
and *evicted* after a transport error so the next caller gets a fresh one.
Evicting never closes a client another caller is still streaming from: a
retired client is closed when its last lease is released.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import httpx

ClientKind = Literal["async", "sync"]


@dataclass(frozen=True, slots=True)
class ClientKey:
    base_url: str
    key_fingerprint: str
    kind: ClientKind = "async"
    connect_timeout: float = 10.0
    read_timeout: float = 300.0


class _Entry:
    __slots__ = ("client", "key", "leases", "retired")

    def __init__(self, key: ClientKey, client: httpx.AsyncClient | httpx.Client) -> None:
        self.key = key
        self.client = client
        self.leases = 0
        self.retired = False


def default_factory(key: ClientKey) -> httpx.AsyncClient | httpx.Client:
    timeout = httpx.Timeout(key.read_timeout, connect=key.connect_timeout, pool=30.0)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    # A plain-http endpoint (local model servers, the test double) never does TLS:
    # skip building an SSL context, which costs ~20 ms of CA-bundle loading.
    verify = not key.base_url.startswith("http://")
    if key.kind == "sync":
        return httpx.Client(timeout=timeout, limits=limits, verify=verify)
    return httpx.AsyncClient(timeout=timeout, limits=limits, verify=verify)


class Lease:
    """A borrowed client.  Release it (``async with``/``with``); ``evict()`` on transport errors."""

    __slots__ = ("_entry", "_pool", "_released")

    def __init__(self, pool: ClientPool, entry: _Entry) -> None:
        self._pool = pool
        self._entry = entry
        self._released = False

    @property
    def client(self) -> httpx.AsyncClient:
        assert isinstance(self._entry.client, httpx.AsyncClient)
        return self._entry.client

    @property
    def sync_client(self) -> httpx.Client:
        assert isinstance(self._entry.client, httpx.Client)
        return self._entry.client

    def evict(self) -> None:
        """Retire this client: new leases get a fresh one; this one closes when unused."""
        self._pool._retire(self._entry)

    async def arelease(self) -> None:
        if not self._released:
            self._released = True
            closing = self._pool._release(self._entry)
            if closing is not None:
                await _aclose(closing)

    def release(self) -> None:
        """Release from sync code; an async client that must close is closed best-effort."""
        if not self._released:
            self._released = True
            closing = self._pool._release(self._entry)
            if isinstance(closing, httpx.Client):
                closing.close()
            elif closing is not None:
                self._pool._orphans.append(closing)

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.client

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.arelease()

    def __enter__(self) -> httpx.Client:
        return self.sync_client

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


async def _aclose(client: httpx.AsyncClient | httpx.Client) -> None:
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()
    else:
        client.close()  # noqa: ASYNC212 - a sync client only closes idle sockets


class ClientPool:
    """Thread-safe pool of HTTP clients keyed by endpoint, key fingerprint and kind."""

    def __init__(
        self, factory: Callable[[ClientKey], httpx.AsyncClient | httpx.Client] = default_factory
    ) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._entries: dict[ClientKey, _Entry] = {}
        self._retired: list[_Entry] = []
        self._orphans: list[httpx.AsyncClient | httpx.Client] = []
        self.constructed = 0
        """How many clients this pool has built (observable by tests and ``doctor``)."""

    def lease(self, key: ClientKey) -> Lease:
        entry = self._entries.get(key)  # fast path: no lock for the common case
        with self._lock:
            if entry is None or entry.retired:
                entry = self._entries.get(key)
                if entry is None:
                    entry = _Entry(key, self._factory(key))
                    self.constructed += 1
                    self._entries[key] = entry
            entry.leases += 1
        return Lease(self, entry)

    def _retire(self, entry: _Entry) -> None:
        with self._lock:
            if entry.retired:
                return
            entry.retired = True
            if self._entries.get(entry.key) is entry:
                del self._entries[entry.key]
            self._retired.append(entry)

    def _release(self, entry: _Entry) -> httpx.AsyncClient | httpx.Client | None:
        with self._lock:
            entry.leases -= 1
            if entry.retired and entry.leases == 0 and entry in self._retired:
                self._retired.remove(entry)
                return entry.client
        return None

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "clients": len(self._entries),
                "retired": len(self._retired),
                "constructed": self.constructed,
                "leases": sum(e.leases for e in self._entries.values()),
            }

    async def aclose(self) -> None:
        """Close every client (shutdown).  In-flight streams are expected to be done."""
        with self._lock:
            clients = [e.client for e in self._entries.values()]
            clients += [e.client for e in self._retired]
            clients += self._orphans
            self._entries.clear()
            self._retired.clear()
            self._orphans = []
        for c in clients:
            await _aclose(c)
