"""The only home of threads, event loops and cross-thread hand-offs.

Talaria runs every agent of a process on one asyncio loop.  Blocking work
(file I/O, SQLite, CPU-heavy parsing, sync tools) goes to a bounded pool of
worker threads created here.  Library users who are not async reach the loop
through :func:`run_sync`, which submits to a single background loop thread.

Keeping all of this in one module is a rule, not a convenience: the classic
agent races (two threads building one client, workers mutating a list being
iterated) come from threads and loops being created ad hoc in many places.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

# Sized for I/O-bound helper work: many concurrent subagents each reading files
# must not queue behind asyncio's default executor (min(32, cpus + 4) = 6 here).
_WORKER_THREADS = 64

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_background: LoopThread | None = None


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=_WORKER_THREADS, thread_name_prefix="talaria-worker"
                )
    return _executor


async def to_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking ``fn`` in a worker thread, carrying context variables along.

    Cancelling the awaiting task does not stop the thread (Python cannot), so
    only short, bounded work belongs here; long-running work must be async.
    """
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, fn, *args, **kwargs)
    return await loop.run_in_executor(_get_executor(), call)


def spawn_thread(target: Callable[[], None], *, name: str, daemon: bool = True) -> threading.Thread:
    """Start a dedicated long-lived thread (e.g. a store's writer)."""
    thread = threading.Thread(target=target, name=name, daemon=daemon)
    thread.start()
    return thread


class LoopThread:
    """An asyncio loop running forever in its own thread.

    Used for the process's background loop (the sync facade) and by the test
    doubles that need a server on a loop the test thread does not own.
    """

    def __init__(self, name: str = "talaria-loop") -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = spawn_thread(self._main, name=name)
        self._ready.wait()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on this loop from any other thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on this loop and block the calling thread for its result.

        If the calling thread is interrupted (KeyboardInterrupt) the coroutine is
        cancelled rather than left running unobserved.
        """
        if _running_loop() is self._loop:
            raise RuntimeError("LoopThread.run() called from its own loop; await instead")
        fut = self.submit(coro)
        try:
            return fut.result(timeout)
        except BaseException:
            fut.cancel()
            raise

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Thread-safe ``call_soon`` onto this loop."""
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in the calling thread, or ``None``."""
    return _running_loop()


def run_on_loop(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float | None = None
) -> T:
    """Run ``coro`` on ``loop`` (owned by another thread) and block for its result.

    For objects bound to one loop (pooled async clients) used from plain threads.
    Refuses to run on ``loop``'s own thread, where waiting would deadlock; if the
    caller is interrupted, the coroutine is cancelled instead of left running.
    """
    if _running_loop() is loop:
        coro.close()
        raise RuntimeError("cannot block on this event loop from its own thread; await instead")
    fut = _submit(loop, coro)
    try:
        return fut.result(timeout)
    except BaseException:
        fut.cancel()
        raise


async def await_on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` running on another thread's ``loop``; cancelling the caller cancels it."""
    return await asyncio.wrap_future(_submit(loop, coro))


def _submit(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> Future[T]:
    try:
        return asyncio.run_coroutine_threadsafe(coro, loop)
    except RuntimeError:  # the loop is closed: never leave a never-awaited coroutine behind
        coro.close()
        raise


def background_loop() -> LoopThread:
    """The process's single background loop, started on first use."""
    global _background
    if _background is None:
        with _lock:
            if _background is None:
                _background = LoopThread("talaria-background")
    return _background


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, on the background loop."""
    return background_loop().run(coro)


def run_main(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` as the main program on a fresh loop in the calling thread (the CLI).

    The shared worker pool is deliberately *not* installed as any loop's default
    executor: closing a loop shuts its default executor down, which would break
    ``to_thread`` for every other loop in the process.
    """
    return asyncio.run(coro)


async def shielded(aw: Awaitable[T]) -> T:
    """Finish ``aw`` even if the caller is being cancelled, then let the cancel proceed.

    Used for bookkeeping that must happen on every exit path (recording a run's
    terminal status, reaping a killed subprocess).
    """
    task = asyncio.ensure_future(aw)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


class Slot:
    """One unit of a :class:`Limiter`, held by one running task."""

    __slots__ = ("held", "limiter")

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.held = True


class Limiter:
    """Bounds how many of something run at once on one loop; the rest wait in FIFO order.

    Used for subagents: one limiter per process tree, shared by every level of
    delegation, so ``max_concurrent_children`` holds however deep the tree is.
    A holder that starts waiting on others (a child that delegates) *lends* its
    slot back meanwhile, so a full tree of waiting parents cannot deadlock.
    ``running``, ``waiting`` and ``peak`` are observable for displays and tests.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a limiter needs a limit of at least 1")
        self.limit = limit
        self._sem = asyncio.Semaphore(limit)
        self.running = 0
        self.waiting = 0
        self.peak = 0

    async def _acquire(self) -> None:
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)

    def _release(self) -> None:
        self.running -= 1
        self._sem.release()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        await self._acquire()
        slot = Slot(self)
        try:
            yield slot
        finally:
            if slot.held:
                slot.held = False
                self._release()

    @contextlib.asynccontextmanager
    async def lend(self, slot: Slot | None) -> AsyncIterator[None]:
        """Give ``slot`` back while the body waits; take one again after (not when the
        body fails or is cancelled: an unwinding task must not queue for a slot)."""
        if slot is None or not slot.held:
            yield
            return
        slot.held = False
        self._release()
        yield
        await self._acquire()
        slot.held = True


def marshal(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> None:
    """Call ``fn`` on ``loop`` soon, from any thread or from a signal handler.

    Always goes through ``call_soon_threadsafe``, even on the loop's own thread:
    a signal handler runs between arbitrary bytecodes of the loop, so acting
    directly there would re-enter code that is halfway through a step.
    """
    if loop.is_closed():
        return
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # loop closed between the check and the call
        return
