"""The client pool under real thread contention."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from talaria.providers.pool import ClientKey, ClientPool


def closed(client: httpx.AsyncClient) -> bool:
    return client.is_closed


KEY = ClientKey(base_url="http://127.0.0.1:1/v1", key_fingerprint="abc")


def _slow_factory(
    built: list[httpx.AsyncClient], gate: threading.Event
) -> Callable[[ClientKey], httpx.AsyncClient]:
    def factory(key: ClientKey) -> httpx.AsyncClient:
        gate.wait(0.05)  # widen the race window: every thread is inside lease() by now
        client = httpx.AsyncClient()
        built.append(client)
        return client

    return factory


def test_32_threads_same_endpoint_build_exactly_one_client() -> None:
    built: list[httpx.AsyncClient] = []
    gate = threading.Event()
    pool = ClientPool(_slow_factory(built, gate))
    barrier = threading.Barrier(32)
    leases = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        lease = pool.lease(KEY)
        with lock:
            leases.append(lease)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(leases) == 32
    assert len(built) == 1
    assert pool.constructed == 1
    assert {id(lease.client) for lease in leases} == {id(built[0])}
    assert pool.stats()["leases"] == 32


def test_distinct_keys_get_distinct_clients() -> None:
    pool = ClientPool()
    a = pool.lease(KEY)
    b = pool.lease(ClientKey(base_url=KEY.base_url, key_fingerprint="other"))
    c = pool.lease(ClientKey(base_url=KEY.base_url, key_fingerprint="abc", kind="sync"))
    assert len({id(a._entry.client), id(b._entry.client), id(c._entry.client)}) == 3
    assert isinstance(c.sync_client, httpx.Client)


async def test_evicted_client_is_rebuilt_once_and_closed_after_last_lease() -> None:
    pool = ClientPool()
    first = pool.lease(KEY)
    other_caller = pool.lease(KEY)  # e.g. a concurrent stream on the same client
    old = first.client
    first.evict()
    assert not closed(old)  # another caller is still using it
    # 8 concurrent new leases after the eviction share one rebuilt client
    fresh = [pool.lease(KEY) for _ in range(8)]
    assert pool.constructed == 2
    assert {id(f.client) for f in fresh} == {id(fresh[0].client)}
    assert fresh[0].client is not old
    await first.arelease()
    assert not closed(old)
    await other_caller.arelease()
    assert closed(old)  # closed by the last lease holder, not by the evictor
    for f in fresh:
        await f.arelease()
    assert not closed(fresh[0].client)  # a live client survives having no leases
    await pool.aclose()
    assert closed(fresh[0].client)


async def test_evicting_twice_does_not_drop_the_replacement() -> None:
    pool = ClientPool()
    a = pool.lease(KEY)
    b = pool.lease(KEY)
    a.evict()
    c = pool.lease(KEY)
    b.evict()  # stale lease evicts again: must not retire the new client
    d = pool.lease(KEY)
    assert c.client is d.client
    assert pool.constructed == 2
    for lease in (a, b, c, d):
        await lease.arelease()
    await pool.aclose()
