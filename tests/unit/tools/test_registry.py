"""Toolset loading, the registry's view of tools, and the schemas the model sees."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from talaria.errors import ConfigError
from talaria.tools.base import tool
from talaria.tools.registry import (
    ToolRegistry,
    available_toolsets,
    load_toolsets,
    toolset_tools,
)

ALL = ["terminal", "file", "web", "todo", "session_search", "delegation"]
EXPECTED = {
    "terminal": ["terminal"],
    "file": ["read_file", "write_file", "patch", "search_files"],
    "web": ["web_fetch"],
    "todo": ["todo"],
    "session_search": ["session_search"],
    "delegation": ["delegate_task"],
}


def test_available_toolsets() -> None:
    assert available_toolsets() == [
        "delegation",
        "file",
        "session_search",
        "terminal",
        "todo",
        "web",
    ]


def test_load_all_toolsets_in_order_with_stable_names() -> None:
    registry = load_toolsets(ALL)
    assert registry.names == [name for ts in ALL for name in EXPECTED[ts]]
    assert len(registry) == 9
    assert registry.toolsets == ALL
    for ts, names in EXPECTED.items():
        assert [t.name for t in toolset_tools(ts)] == names
        assert all(t.toolset == ts for t in toolset_tools(ts))


def test_unknown_toolset_is_a_config_error_naming_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_toolsets(["file", "files"])
    assert info.value.key == "toolsets"
    message = str(info.value)
    assert "unknown toolset 'files'" in message
    assert "did you mean 'file'" in message
    assert "delegation, file, session_search, terminal, todo, web" in message


def test_duplicate_toolsets_are_loaded_once() -> None:
    assert load_toolsets(["todo", "todo"]).names == ["todo"]


def test_lookup_iteration_and_membership() -> None:
    registry = load_toolsets(["todo", "terminal"])
    terminal = registry.get("terminal")
    assert terminal is not None and terminal.toolset == "terminal"
    assert registry.get("web_fetch") is None
    assert "todo" in registry and "web_fetch" not in registry
    assert [t.name for t in registry] == ["todo", "terminal"]


def test_extra_tools_are_added_and_duplicate_names_rejected() -> None:
    @tool(toolset="custom")
    def shout(text: str) -> str:
        """Upper-case text.

        Args:
            text: What to shout.
        """
        return text.upper()

    assert load_toolsets(["todo"], extra=[shout]).names == ["todo", "shout"]

    @tool(toolset="custom", name="todo")
    def fake_todo() -> str:
        """A clash."""
        return ""

    with pytest.raises(ValueError, match="two tools are named 'todo'"):
        load_toolsets(["todo"], extra=[fake_todo])
    assert len(ToolRegistry()) == 0


def _walk_properties(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, prop in schema.get("properties", {}).items():
        found.append((f"{path}.{name}", prop))
        for option in [prop, *prop.get("anyOf", [])]:
            if option.get("type") == "array" and "properties" in option.get("items", {}):
                found.extend(_walk_properties(option["items"], f"{path}.{name}[]"))
    return found


def test_schemas_have_the_openai_shape_and_documented_parameters() -> None:
    schemas = load_toolsets(ALL).schemas()
    assert len(schemas) == 9
    for entry in schemas:
        assert entry["type"] == "function"
        fn = entry["function"]
        params = fn["parameters"]
        assert params["type"] == "object"
        assert isinstance(params["properties"], dict)
        assert isinstance(params["required"], list)
        assert params["additionalProperties"] is False
        assert len(fn["description"]) > 80, fn["name"]
        assert "Args:" not in fn["description"]
        assert "$ref" not in json.dumps(params) and "$defs" not in json.dumps(params)
        for where, prop in _walk_properties(params, fn["name"]):
            assert prop.get("description"), f"{where} has no description"
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in schemas}
    assert by_name["terminal"]["required"] == ["command"]
    assert by_name["read_file"]["required"] == ["path"]
    assert by_name["patch"]["required"] == ["path", "old_string", "new_string"]
    assert by_name["search_files"]["required"] == ["pattern"]
    assert by_name["web_fetch"]["required"] == ["url"]
    assert by_name["read_file"]["properties"]["limit"]["default"] == 500


def _imports_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_importing_the_registry_is_cheap() -> None:
    modules = _imports_after("import talaria.tools.registry")
    assert "httpx" not in modules
    assert not any(m.startswith("talaria.tools.builtin.") for m in modules)


def test_web_is_imported_only_with_its_toolset() -> None:
    without = _imports_after(
        "from talaria.tools.registry import load_toolsets\n"
        "load_toolsets(['terminal', 'file', 'todo'])"
    )
    assert "httpx" not in without
    assert "talaria.tools.builtin.files" in without
    with_web = _imports_after(
        "from talaria.tools.registry import load_toolsets\nload_toolsets(['web'])"
    )
    assert "httpx" in with_web
