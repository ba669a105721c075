"""Process-level services shared by every run on one event loop.

The HTTP client pool and the session stores (one per ``TALARIA_HOME``, each
with its single writer thread).  A ``Runtime`` is created by whoever owns the
loop — the CLI for its own loop, or lazily for the background loop that serves
the synchronous library API — and closed when that loop shuts down.
"""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from talaria import concurrency
from talaria.providers.pool import ClientPool

if TYPE_CHECKING:
    from talaria.config import Settings
    from talaria.providers.auxiliary import AuxiliaryRouter
    from talaria.store.base import SessionStore


class Runtime:
    def __init__(self, pool: ClientPool | None = None) -> None:
        self.pool = pool or ClientPool()
        self._stores: dict[Path, SessionStore] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._aux: dict[Path, AuxiliaryRouter] = {}
        self._aux_lock = threading.Lock()  # not _lock: that one is held while a store opens

    def store(self, settings: Settings) -> SessionStore:
        """The store for ``settings``' home, opened on first use (blocking: call from a
        thread, or use :meth:`astore` on the loop)."""
        path = settings.paths.state_db
        with self._lock:
            store = self._stores.get(path)
            if store is None:
                if self._closed:
                    raise RuntimeError("this Runtime is closed")
                from talaria.store.sqlite import open_store

                store = open_store(settings, redact=settings.redactor())
                self._stores[path] = store
            return store

    async def astore(self, settings: Settings) -> SessionStore:
        path = settings.paths.state_db
        store = self._stores.get(path)
        if store is not None:
            return store
        return await concurrency.to_thread(self.store, settings)

    def aux(self, settings: Settings) -> AuxiliaryRouter:
        """The side-task router for ``settings``' home, sharing this runtime's client pool.

        Cheap and non-blocking, so callable on the loop.  The router is bound to this
        runtime's loop (the background loop for :func:`default_runtime`, else the loop
        running when it is created or first used), because the pool's async clients
        belong to that loop.  A different configuration for the same home gets a fresh
        router.
        """
        home = settings.paths.home
        router = self._aux.get(home)
        if router is None or not router.serves(settings):
            from talaria.providers.auxiliary import AuxiliaryRouter

            loop = concurrency.background_loop().loop if self is _default else None
            with self._aux_lock:
                router = self._aux.get(home)
                if router is None or not router.serves(settings):
                    router = AuxiliaryRouter(settings, self.pool, loop=loop)
                    self._aux[home] = router
        return router

    def close_stores(self) -> None:
        """Flush and close every store (blocking)."""
        with self._lock:
            stores = list(self._stores.values())
            self._stores.clear()
            self._closed = True
        for s in stores:
            s.close()

    async def aclose(self) -> None:
        await self.pool.aclose()
        if self._stores:
            await concurrency.to_thread(self.close_stores)
        else:
            self._closed = True


_lock = threading.Lock()
_default: Runtime | None = None


def default_runtime() -> Runtime:
    """The runtime of the background loop used by ``Agent.run``/``Agent.arun``."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                concurrency.background_loop()
                _default = Runtime()
                # Queued store writes are flushed and the WAL checkpointed at exit.
                atexit.register(_default.close_stores)
    return _default
