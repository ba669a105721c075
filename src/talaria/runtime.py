"""Process-level services shared by every run on one event loop.

Today: the HTTP client pool.  (The session store and the delegation limiter
join it in later issues.)  A ``Runtime`` is created by whoever owns the loop —
the CLI for its own loop, or lazily for the background loop that serves the
synchronous library API — and closed when that loop shuts down.
"""

from __future__ import annotations

import threading

from talaria import concurrency
from talaria.providers.pool import ClientPool


class Runtime:
    def __init__(self, pool: ClientPool | None = None) -> None:
        self.pool = pool or ClientPool()

    async def aclose(self) -> None:
        await self.pool.aclose()


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
    return _default
