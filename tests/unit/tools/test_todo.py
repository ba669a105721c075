"""The todo tool: read, replace, merge, validation and per-run isolation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from talaria.config import Settings
from talaria.errors import ToolError
from talaria.tools.base import ToolContext
from talaria.tools.builtin.todo import MAX_CONTENT_CHARS, MAX_ITEMS, current, todo


def make_ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(
        run_id="test-run", cwd=tmp_path, settings=Settings.for_home(tmp_path / "home"), env={}
    )


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_ctx(tmp_path)


async def call(ctx: ToolContext, **arguments: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(await todo.invoke(ctx, json.dumps(arguments)))
    return result


def item(id: str, content: str, status: str = "pending") -> dict[str, str]:
    return {"id": id, "content": content, "status": status}


def ids_and_statuses(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["id"], t["status"]) for t in result["todos"]]


async def test_reading_an_empty_list(ctx: ToolContext) -> None:
    assert await call(ctx) == {
        "todos": [],
        "summary": {"total": 0, "pending": 0, "in_progress": 0, "completed": 0, "cancelled": 0},
    }


async def test_write_then_read_returns_the_full_list_with_counts(ctx: ToolContext) -> None:
    written = await call(
        ctx,
        todos=[
            item("1", "plan", "completed"),
            item("2", "build", "in_progress"),
            item("3", "ship"),
        ],
    )
    assert written == await call(ctx)
    assert written["todos"][1] == item("2", "build", "in_progress")
    assert written["summary"] == {
        "total": 3,
        "pending": 1,
        "in_progress": 1,
        "completed": 1,
        "cancelled": 0,
    }


async def test_write_without_merge_replaces_everything(ctx: ToolContext) -> None:
    await call(ctx, todos=[item("1", "a"), item("2", "b")])
    result = await call(ctx, todos=[item("9", "fresh plan")])
    assert ids_and_statuses(result) == [("9", "pending")]


async def test_merge_updates_by_id_and_appends_new_items(ctx: ToolContext) -> None:
    await call(ctx, todos=[item("1", "first"), item("2", "second"), item("3", "third")])
    result = await call(
        ctx,
        todos=[item("2", "", "completed"), item("4", "fourth"), item("1", "first, reworded")],
        merge=True,
    )
    assert [t["content"] for t in result["todos"]] == [
        "first, reworded",
        "second",  # empty content in a merge keeps the old text
        "third",
        "fourth",
    ]
    assert ids_and_statuses(result) == [
        ("1", "pending"),
        ("2", "completed"),
        ("3", "pending"),
        ("4", "pending"),
    ]


async def test_repeated_ids_keep_the_last_one(ctx: ToolContext) -> None:
    result = await call(
        ctx, todos=[item("1", "old"), item("2", "b"), item("1", "new", "completed")]
    )
    assert [(t["id"], t["content"]) for t in result["todos"]] == [("2", "b"), ("1", "new")]


async def test_invalid_items_are_tool_errors_and_change_nothing(ctx: ToolContext) -> None:
    await call(ctx, todos=[item("1", "keep me")])
    with pytest.raises(ToolError, match="status"):
        await call(ctx, todos=[item("1", "x", "done")])
    with pytest.raises(ToolError, match="empty id"):
        await call(ctx, todos=[item("  ", "x")])
    with pytest.raises(ToolError, match="empty content"):
        await call(ctx, todos=[item("2", "   ")])
    with pytest.raises(ToolError, match=f"at most {MAX_ITEMS}"):
        await call(ctx, todos=[item(str(n), "task") for n in range(MAX_ITEMS + 1)])
    assert ids_and_statuses(await call(ctx)) == [("1", "pending")]


async def test_long_content_is_capped(ctx: ToolContext) -> None:
    result = await call(ctx, todos=[item("1", "x" * (MAX_CONTENT_CHARS * 2))])
    content = result["todos"][0]["content"]
    assert len(content) == MAX_CONTENT_CHARS
    assert content.endswith("[truncated]")


async def test_lists_are_per_run(tmp_path: Path) -> None:
    first, second = make_ctx(tmp_path), make_ctx(tmp_path)
    await call(first, todos=[item("1", "only in the first run")])
    assert (await call(second))["todos"] == []
    assert [t.content for t in current(first)] == ["only in the first run"]


def test_schema_inlines_the_item_shape() -> None:
    todos_schema = todo.parameters["properties"]["todos"]
    array = next(s for s in todos_schema["anyOf"] if s.get("type") == "array")
    assert array["items"]["required"] == ["id", "content", "status"]
    assert set(array["items"]["properties"]["status"]["enum"]) == {
        "pending",
        "in_progress",
        "completed",
        "cancelled",
    }
    assert "$ref" not in json.dumps(todo.parameters)
    assert todo.parameters["required"] == []
