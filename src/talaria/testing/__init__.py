"""Test doubles for Talaria, shipped in the package for tests, benchmarks and demos.

Re-exports are lazy (module ``__getattr__``): importing ``talaria.testing``
costs nothing until a name is used, so CLI start-up and unrelated tests do not
pay for the HTTP server, h11 or msgspec.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talaria.testing.fake_server import FakeLLMServer
    from talaria.testing.replies import RecordedRequest, Reply, ScriptQueue, ToolCallSpec, echo

# name -> defining module; add new doubles here (e.g. the scripted in-process provider).
_EXPORTS: dict[str, str] = {
    "FakeLLMServer": "talaria.testing.fake_server",
    "RecordedRequest": "talaria.testing.replies",
    "Reply": "talaria.testing.replies",
    "ScriptQueue": "talaria.testing.replies",
    "ToolCallSpec": "talaria.testing.replies",
    "echo": "talaria.testing.replies",
}

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply", "ScriptQueue", "ToolCallSpec", "echo"]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
