"""The concurrency home: worker pool, loop threads, sync bridge, shielded writes."""

from __future__ import annotations

import asyncio
import threading

import pytest

from talaria import concurrency


def test_stopping_a_loop_thread_does_not_break_to_thread_elsewhere() -> None:
    lt = concurrency.LoopThread("test-loop")
    assert lt.run(concurrency.to_thread(lambda: 41 + 1)) == 42
    lt.stop()

    async def main() -> str:
        return await concurrency.to_thread(lambda: threading.current_thread().name)

    name = concurrency.run_main(main())
    assert name.startswith("talaria-worker")
    # and again: run_main must not shut the shared pool down either
    assert concurrency.run_main(main()).startswith("talaria-worker")


def test_run_sync_from_many_threads_uses_one_background_loop() -> None:
    loops: set[int] = set()
    lock = threading.Lock()

    async def which_loop() -> int:
        await asyncio.sleep(0)
        return id(asyncio.get_running_loop())

    def worker() -> None:
        value = concurrency.run_sync(which_loop())
        with lock:
            loops.add(value)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(loops) == 1
    assert loops == {id(concurrency.background_loop().loop)}


def test_run_on_own_loop_is_refused() -> None:
    lt = concurrency.background_loop()

    async def inner() -> None:
        coro = asyncio.sleep(0)
        try:
            lt.run(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="own loop"):
        lt.run(inner())


async def test_shielded_finishes_its_work_when_the_caller_is_cancelled() -> None:
    finished = asyncio.Event()
    started = asyncio.Event()

    async def bookkeeping() -> None:
        started.set()
        await asyncio.sleep(0.05)
        finished.set()

    async def caller() -> None:
        await concurrency.shielded(bookkeeping())

    task = asyncio.ensure_future(caller())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()  # the write completed before the cancellation propagated


async def test_marshal_runs_on_the_loop_from_another_thread() -> None:
    loop = asyncio.get_running_loop()
    seen: list[int] = []
    done = asyncio.Event()

    def on_loop(x: int) -> None:
        assert asyncio.get_running_loop() is loop
        seen.append(x)
        done.set()

    t = threading.Thread(target=concurrency.marshal, args=(loop, on_loop, 7))
    t.start()
    t.join()
    async with asyncio.timeout(5):
        await done.wait()
    assert seen == [7]
