"""Tools the model can call: the ``Tool`` type and ``@tool`` decorator, toolsets, the
executor, and the built-in tools (one module per family under ``builtin``)."""

from talaria.tools.base import Tool, ToolContext, tool

__all__ = ["Tool", "ToolContext", "tool"]
