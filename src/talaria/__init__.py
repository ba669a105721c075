"""Talaria: a self-hosted, tool-using AI agent.

Public API re-exports only.  They are resolved lazily (module ``__getattr__``) so
that ``import talaria`` — and therefore ``talaria --help`` — costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talaria.agent.agent import Agent
    from talaria.agent.run import Run
    from talaria.config import Settings, load_settings
    from talaria.errors import (
        ConfigError,
        ProviderError,
        TalariaError,
        ToolError,
    )
    from talaria.tools.base import Tool, ToolContext, tool
    from talaria.types import Message, RunResult, ToolCall, Usage

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Agent": "talaria.agent.agent",
    "Run": "talaria.agent.run",
    "Settings": "talaria.config",
    "load_settings": "talaria.config",
    "ConfigError": "talaria.errors",
    "ProviderError": "talaria.errors",
    "TalariaError": "talaria.errors",
    "ToolError": "talaria.errors",
    "Tool": "talaria.tools.base",
    "ToolContext": "talaria.tools.base",
    "tool": "talaria.tools.base",
    "Message": "talaria.types",
    "RunResult": "talaria.types",
    "ToolCall": "talaria.types",
    "Usage": "talaria.types",
}

__all__ = [
    "Agent",
    "ConfigError",
    "Message",
    "ProviderError",
    "Run",
    "RunResult",
    "Settings",
    "TalariaError",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "Usage",
    "__version__",
    "load_settings",
    "tool",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'talaria' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
