"""The ``todo`` toolset: a task list the model keeps for itself during a run.

Semantics follow Hermes Agent's ``todo`` tool, so models that know it need no
new instructions: one tool, called without arguments to read the list and
with ``todos`` to write it, either replacing the whole list or (``merge``)
updating items by id and appending new ones.  Every call returns the full
list and a count per status, so the model never acts on a stale picture.

The list lives in ``ctx.state["todo"]``: per run, never global, so parallel
subagents each keep their own plan.  The tool is ``async`` although it never
awaits: that makes it run on the event loop, where one call completes before
another starts, so two concurrent ``todo`` calls of one run cannot interleave
their read-modify-write (a sync tool would run in a worker thread and could).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from talaria.errors import ToolError
from talaria.tools.base import Tool, ToolContext, tool

Status = Literal["pending", "in_progress", "completed", "cancelled"]
STATUSES: tuple[Status, ...] = ("pending", "in_progress", "completed", "cancelled")
MAX_ITEMS = 256
MAX_CONTENT_CHARS = 4000
STATE_KEY = "todo"
_CUT = "… [truncated]"


class TodoItem(msgspec.Struct, frozen=True):
    """One task; list order is priority."""

    id: Annotated[str, msgspec.Meta(description="Short unique id you choose, e.g. '1' or 'tests'")]
    content: Annotated[str, msgspec.Meta(description="What the task is, in one line")]
    status: Annotated[
        Status,
        msgspec.Meta(
            description="pending, in_progress (only one at a time), completed (verified "
            "done) or cancelled (no longer needed)"
        ),
    ]


def current(ctx: ToolContext) -> list[TodoItem]:
    """The run's list (a copy), for prompt assembly after context compression."""
    items: list[TodoItem] = ctx.state.get(STATE_KEY, [])
    return list(items)


def _clean_content(content: str) -> str:
    content = content.strip()
    if len(content) > MAX_CONTENT_CHARS:
        content = content[: MAX_CONTENT_CHARS - len(_CUT)] + _CUT
    return content


def _normalise(item: TodoItem, position: int) -> TodoItem:
    item_id = item.id.strip()
    if not item_id:
        raise ToolError(f"todo item {position} has an empty id; give every item a unique id")
    content = _clean_content(item.content)
    if not content:
        raise ToolError(f"todo item {item_id!r} has empty content; say what the task is")
    return TodoItem(id=item_id, content=content, status=item.status)


def _dedupe(todos: list[TodoItem]) -> list[TodoItem]:
    """Collapse repeated ids: the last occurrence wins and keeps its own position."""
    last = {item.id.strip(): i for i, item in enumerate(todos)}
    return [item for i, item in enumerate(todos) if last[item.id.strip()] == i]


def _replace(todos: list[TodoItem]) -> list[TodoItem]:
    return [_normalise(item, i + 1) for i, item in enumerate(_dedupe(todos))]


def _merge(existing: list[TodoItem], todos: list[TodoItem]) -> list[TodoItem]:
    """Update items by id (empty content keeps the old text) and append new ones."""
    merged = list(existing)
    index = {item.id: i for i, item in enumerate(merged)}
    for position, item in enumerate(_dedupe(todos), start=1):
        item_id = item.id.strip()
        if item_id in index:
            old = merged[index[item_id]]
            content = _clean_content(item.content) or old.content
            merged[index[item_id]] = TodoItem(id=item_id, content=content, status=item.status)
        else:
            index[item_id] = len(merged)
            merged.append(_normalise(item, position))
    return merged


def render(items: list[TodoItem]) -> dict[str, Any]:
    """The result the model reads: the full list and a count per status."""
    summary: dict[str, int] = {"total": len(items)}
    for status in STATUSES:
        summary[status] = sum(1 for item in items if item.status == status)
    return {"todos": [msgspec.structs.asdict(item) for item in items], "summary": summary}


@tool(toolset="todo")
async def todo(
    ctx: ToolContext,
    todos: list[TodoItem] | None = None,
    merge: bool = False,
) -> str:
    """Keep a task list for multi-step work; call with no arguments to read it.

    Use it for tasks with 3 or more steps or when the user gives several
    tasks: write the plan first, then keep it current. For "do X for all N
    items" tasks, list every item separately so none is silently dropped.
    List order is priority. Keep exactly one item `in_progress` while working;
    mark an item `completed` only after the work is verified done, never on
    intent. If a step fails or turns out unnecessary, mark it `cancelled` and
    add a revised item. Every call returns the full current list and counts
    per status as JSON.

    Args:
        todos: Items to write, each {id, content, status}. Omit to read the
            current list without changing it.
        merge: true: update existing items by id (status, and content when
            non-empty) and append items with new ids. false (default): replace
            the entire list with `todos`.
    """
    items: list[TodoItem] = ctx.state.get(STATE_KEY, [])
    if todos is not None:
        items = _merge(items, todos) if merge else _replace(todos)
        if len(items) > MAX_ITEMS:
            raise ToolError(
                f"the list would have {len(items)} items; at most {MAX_ITEMS} are kept. "
                "Group related steps into fewer items."
            )
        ctx.state[STATE_KEY] = items
    return msgspec.json.encode(render(items)).decode()


TOOLS: list[Tool] = [todo]
