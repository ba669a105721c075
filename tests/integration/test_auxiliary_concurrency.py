"""The auxiliary router under real concurrency: threads and tasks on one endpoint, and
a client evicted while another caller is still streaming from it."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from talaria import errors
from talaria.config import Settings
from talaria.providers.auxiliary import AuxiliaryRouter, AuxResult
from talaria.providers.pool import ClientKey, ClientPool, default_factory
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply, echo
from talaria.types import Message

WAIT = 15.0
THREADS = TASKS = 32


def _settings(tmp_path: Path, server: FakeLLMServer) -> Settings:
    return Settings.for_home(
        tmp_path / "home",
        **{
            "retry.max_retries": 0,
            "auxiliary.default": {
                "provider": "custom",
                "base_url": server.base_url,
                "model": "aux-model",
            },
        },
    )


async def test_32_threads_and_32_tasks_share_exactly_one_client(tmp_path: Path) -> None:
    server: FakeLLMServer
    all_arrived = False  # a latch: the first answer lowers in_flight again

    async def everyone_at_once(request: RecordedRequest) -> Reply:
        # Hold each answer until all 64 requests are in flight: proves they really ran
        # concurrently over the one client, without any timing assumption.
        nonlocal all_arrived
        deadline = time.monotonic() + WAIT
        while not all_arrived and time.monotonic() < deadline:
            all_arrived = server.in_flight >= THREADS + TASKS
            if not all_arrived:
                await asyncio.sleep(0.005)
        return echo(request)

    async with FakeLLMServer(everyone_at_once) as server:
        pool = ClientPool()
        router = AuxiliaryRouter(_settings(tmp_path, server), pool)
        barrier = threading.Barrier(THREADS)

        def from_thread(i: int) -> AuxResult:
            barrier.wait(WAIT)  # all 32 threads call at the same moment
            return router.call_sync("title", [Message.user(f"thread prompt {i}")])

        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=THREADS) as threads:
            thread_calls = [loop.run_in_executor(threads, from_thread, i) for i in range(THREADS)]
            task_calls = [
                asyncio.create_task(router.call("compression", [Message.user(f"task prompt {i}")]))
                for i in range(TASKS)
            ]
            async with asyncio.timeout(WAIT * 2):
                thread_results = await asyncio.gather(*thread_calls)
                task_results = await asyncio.gather(*task_calls)

        assert [r.text for r in thread_results] == [
            f"echo: thread prompt {i}" for i in range(THREADS)
        ]
        assert [r.text for r in task_results] == [f"echo: task prompt {i}" for i in range(TASKS)]
        assert server.max_in_flight == THREADS + TASKS
        assert {r.model for r in server.requests} == {"aux-model"}
        assert pool.constructed == 1
        assert pool.stats() == {"clients": 1, "retired": 0, "constructed": 1, "leases": 0}
        await pool.aclose()


def closed(client: httpx.AsyncClient) -> bool:
    return client.is_closed


class _ResetOnMarker(httpx.AsyncBaseTransport):
    """The real transport, except that a request whose body carries ``marker`` fails
    like a connection reset: the transport error that makes a caller evict its client."""

    def __init__(self, marker: bytes) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._marker = marker

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._marker in request.content:
            raise httpx.ReadError("connection reset by peer", request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_eviction_under_a_live_stream(tmp_path: Path) -> None:
    def handler(request: RecordedRequest) -> Reply:
        if "slow" in request.last_user_text:
            return Reply.say("a slow and steady answer " * 4, chunks=20, chunk_delay=0.03)
        return echo(request)

    built: list[httpx.AsyncClient] = []

    def factory(key: ClientKey) -> httpx.AsyncClient | httpx.Client:
        reference = default_factory(key)  # same timeouts and limits as production
        assert isinstance(reference, httpx.AsyncClient)
        client = httpx.AsyncClient(transport=_ResetOnMarker(b"RESET-ME"), timeout=reference.timeout)
        built.append(client)
        return client

    async with FakeLLMServer(handler) as server:
        pool = ClientPool(factory)
        router = AuxiliaryRouter(_settings(tmp_path, server), pool)
        slow = asyncio.create_task(router.call("compression", [Message.user("slow please")]))
        assert await server.wait_for_async(lambda s: s.in_flight == 1, WAIT)

        with pytest.raises(errors.NetworkError) as info:
            await router.call("title", [Message.user("RESET-ME")])
        assert "auxiliary task 'title'" in str(info.value)
        assert "connection reset by peer" in str(info.value)
        assert pool.stats()["retired"] == 1  # evicted…
        assert not closed(built[0])  # …but not closed: the slow stream still holds it
        assert not slow.done()

        result = await asyncio.wait_for(slow, WAIT)
        assert result.text == "a slow and steady answer " * 4
        assert closed(built[0])  # closed by its last lease holder, after the stream
        assert server.cancelled == 0

        after = await router.call("title", [Message.user("fresh client")])
        assert after.text == "echo: fresh client"
        assert pool.constructed == 2 and len(built) == 2 and not built[1].is_closed
        await pool.aclose()
