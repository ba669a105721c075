"""Suite-wide fixtures.

Every async test runs under blockbuster, scanning Talaria's own modules: a
blocking call (file I/O, ``time.sleep``, a lock wait, a sync socket) made by
Talaria code on the event loop fails the test, because on a loop shared by many
agents it would stall all of them.

Allowed: set-up APIs that are synchronous by design and run once before work
starts (building Settings, constructing an Agent), and the test doubles'
start/stop (test infrastructure).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from blockbuster import blockbuster_ctx

_SETUP_MAY_BLOCK: dict[str, set[str]] = {
    "talaria/config.py": {"load_settings"},
    "talaria/agent/agent.py": {"__init__"},
    "talaria/testing/fake_server.py": {
        "start",
        "stop",
        "__enter__",
        "__exit__",
        "wait_for",
        "astart",
        "astop",
        "__aenter__",
        "__aexit__",
    },
}


@pytest.fixture(autouse=True)
def no_blocking_calls_on_the_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    fn = getattr(request.node, "function", None)
    if fn is None or not inspect.iscoroutinefunction(fn):
        yield
        return
    with blockbuster_ctx(["talaria"], excluded_modules=["talaria.testing"]) as bb:
        for func in bb.functions.values():
            for filename, names in _SETUP_MAY_BLOCK.items():
                func.can_block_in(filename, names)
        yield
