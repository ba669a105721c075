"""Toolsets by name, and the registry of tools one run may call.

A toolset is a named family of tools (``terminal``, ``file``, ``web``,
``todo``); configuration and delegation speak in toolsets, the model in tool
names.  Each built-in toolset is one module exposing ``TOOLS``, imported only
when the toolset is first loaded: importing this module costs nothing, and a
run without ``web`` never imports httpx.  ``importlib`` caches modules and
serialises imports, so loading from several threads or runs at once is safe.

A :class:`ToolRegistry` is an immutable, ordered set of tools for one run.
Building a child's restricted set is building a new registry, never mutating
the parent's.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import Any

from talaria.errors import ConfigError
from talaria.tools.base import Tool

_BUILTIN_TOOLSETS: dict[str, str] = {
    "terminal": "talaria.tools.builtin.terminal",
    "file": "talaria.tools.builtin.files",
    "web": "talaria.tools.builtin.web",
    "todo": "talaria.tools.builtin.todo",
    "session_search": "talaria.tools.builtin.session_search",
    "delegation": "talaria.delegation.tool",
}


def available_toolsets() -> list[str]:
    """Names accepted by :func:`load_toolsets`, sorted."""
    return sorted(_BUILTIN_TOOLSETS)


def toolset_tools(name: str) -> list[Tool]:
    """The tools of one built-in toolset, importing its module on first use."""
    module_name = _BUILTIN_TOOLSETS.get(name)
    if module_name is None:
        raise _unknown(name)
    module = importlib.import_module(module_name)
    tools: list[Tool] = module.TOOLS
    return list(tools)


def _unknown(name: str) -> ConfigError:
    valid = available_toolsets()
    import difflib  # only on the error path

    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(
        f"unknown toolset '{name}'{hint}; valid toolsets: {', '.join(valid)}",
        key="toolsets",
    )


class ToolRegistry:
    """The tools available to one run, by name, in a stable order."""

    __slots__ = ("_tools",)

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        by_name: dict[str, Tool] = {}
        for t in tools:
            other = by_name.get(t.name)
            if other is not None and other is not t:
                raise ValueError(
                    f"two tools are named {t.name!r} (toolsets {other.toolset!r} and "
                    f"{t.toolset!r}); tool names must be unique within a run"
                )
            by_name[t.name] = t
        self._tools = by_name

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    @property
    def toolsets(self) -> list[str]:
        """Toolsets represented, in first-seen order (for a child's intersection)."""
        return list(dict.fromkeys(t.toolset for t in self._tools.values()))

    def schemas(self) -> list[dict[str, Any]]:
        """The OpenAI ``tools`` list for a chat-completions request."""
        return [t.schema() for t in self._tools.values()]

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._tools)})"


def load_toolsets(names: Iterable[str], extra: Iterable[Tool] = ()) -> ToolRegistry:
    """A registry of the named built-in toolsets (in order, duplicates ignored) plus ``extra``.

    Every name is checked before any module is imported, so a typo fails fast
    with a :class:`ConfigError` on key ``toolsets`` that lists the valid names.
    """
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in _BUILTIN_TOOLSETS:
            raise _unknown(name)
    tools: list[Tool] = []
    for name in wanted:
        tools.extend(toolset_tools(name))
    tools.extend(extra)
    return ToolRegistry(tools)
