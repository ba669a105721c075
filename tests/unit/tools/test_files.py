"""read_file, write_file, patch and search_files on real files in a temporary tree."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from talaria.config import Settings
from talaria.errors import ToolError
from talaria.secrets import Redactor
from talaria.tools.base import Tool, ToolContext
from talaria.tools.builtin.files import patch, read_file, search_files, write_file


def make_ctx(tmp_path: Path, **overrides: Any) -> ToolContext:
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    return ToolContext(
        run_id="test-run",
        cwd=cwd,
        settings=Settings.for_home(tmp_path / "home", **overrides),
        env={},
        redact=Redactor(),
    )


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_ctx(tmp_path)


async def call(tool: Tool, ctx: ToolContext, **arguments: Any) -> str:
    return await tool.invoke(ctx, json.dumps(arguments))


def numbered(start: int, stop: int) -> list[str]:
    return [f"{n:>6}|line {n}" for n in range(start, stop + 1)]


@pytest.fixture
def ten_lines(ctx: ToolContext) -> Path:
    path = ctx.cwd / "ten.txt"
    path.write_text("".join(f"line {n}\n" for n in range(1, 11)))
    return path


# -- read_file ---------------------------------------------------------------


async def test_read_whole_small_file_has_numbers_and_no_note(ctx: ToolContext, ten_lines: Path):
    out = await call(read_file, ctx, path="ten.txt")
    assert out.splitlines() == numbered(1, 10)


async def test_read_with_limit_says_how_to_continue(ctx: ToolContext, ten_lines: Path) -> None:
    out = await call(read_file, ctx, path="ten.txt", limit=3)
    lines = out.splitlines()
    assert lines[:3] == numbered(1, 3)
    assert "lines 1-3 of 10" in lines[3]
    assert "offset=4" in lines[3]


async def test_read_from_offset_to_end(ctx: ToolContext, ten_lines: Path) -> None:
    out = await call(read_file, ctx, path=str(ten_lines), offset=9)
    lines = out.splitlines()
    assert lines[:2] == numbered(9, 10)
    assert lines[2] == "[lines 9-10 of 10; end of file]"


async def test_read_offset_past_end_and_bad_arguments(ctx: ToolContext, ten_lines: Path):
    with pytest.raises(ToolError, match=r"past the end.*10 lines"):
        await call(read_file, ctx, path="ten.txt", offset=11)
    with pytest.raises(ToolError, match="offset must be 1 or more"):
        await call(read_file, ctx, path="ten.txt", offset=0)
    with pytest.raises(ToolError, match="limit must be 1 or more"):
        await call(read_file, ctx, path="ten.txt", limit=0)


async def test_read_refuses_binary_files(ctx: ToolContext) -> None:
    (ctx.cwd / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ToolError, match="binary file"):
        await call(read_file, ctx, path="img.png")


async def test_read_refuses_directories_and_hints_at_similar_names(ctx: ToolContext):
    (ctx.cwd / "src").mkdir()
    (ctx.cwd / "config.yaml").write_text("a: 1\n")
    with pytest.raises(ToolError, match="is a directory"):
        await call(read_file, ctx, path="src")
    with pytest.raises(ToolError, match=r"file not found.*config\.yaml"):
        await call(read_file, ctx, path="config.yml")


async def test_read_caps_long_lines_and_normalises_crlf(ctx: ToolContext) -> None:
    (ctx.cwd / "long.txt").write_bytes(b"short\r\n" + b"x" * 5000 + b"\r\n")
    lines = (await call(read_file, ctx, path="long.txt")).splitlines()
    assert lines[0] == "     1|short"
    assert lines[1].startswith("     2|" + "x" * 2000 + "…")
    assert "3000 more chars" in lines[1]
    assert "\r" not in lines[0]


async def test_read_stops_early_when_output_would_be_too_large(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, **{"agent.max_tool_output_chars": 1000})
    (ctx.cwd / "wide.txt").write_text("".join(f"{n:04d} " + "y" * 95 + "\n" for n in range(200)))
    out = await call(read_file, ctx, path="wide.txt")
    lines = out.splitlines()
    assert len(out) < 2000
    assert "more lines remain" in lines[-1]
    shown = len(lines) - 1
    assert f"offset={shown + 1}" in lines[-1]


async def test_read_empty_file(ctx: ToolContext) -> None:
    (ctx.cwd / "empty.txt").write_text("")
    assert "empty file" in await call(read_file, ctx, path="empty.txt")


async def test_read_redacts_secret_shaped_values(ctx: ToolContext) -> None:
    (ctx.cwd / ".env").write_text("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx\n")
    out = await call(read_file, ctx, path=".env")
    assert "sk-proj" not in out
    assert "[REDACTED]" in out


# -- write_file --------------------------------------------------------------


async def test_write_creates_parents_and_reports_size(ctx: ToolContext) -> None:
    out = await call(write_file, ctx, path="a/b/c.txt", content="one\ntwo\nthré\n")
    target = ctx.cwd / "a" / "b" / "c.txt"
    assert target.read_text(encoding="utf-8") == "one\ntwo\nthré\n"
    assert out.startswith("Created")
    assert "14 bytes, 3 lines" in out
    assert "Overwrote" in await call(write_file, ctx, path="a/b/c.txt", content="x")
    assert target.read_text() == "x"
    assert sorted(p.name for p in target.parent.iterdir()) == ["c.txt"]  # no temp files left


async def test_write_keeps_the_mode_of_an_existing_file(ctx: ToolContext) -> None:
    script = ctx.cwd / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    await call(write_file, ctx, path="run.sh", content="#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


async def test_failed_write_leaves_the_old_file_intact(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = ctx.cwd / "keep.txt"
    target.write_text("original\n")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ToolError, match="No space left"):
        await call(write_file, ctx, path="keep.txt", content="new content\n")
    assert target.read_text() == "original\n"
    assert [p.name for p in ctx.cwd.iterdir()] == ["keep.txt"]


async def test_write_through_a_symlink_keeps_the_link(ctx: ToolContext) -> None:
    real = ctx.cwd / "real.txt"
    real.write_text("old")
    (ctx.cwd / "link.txt").symlink_to(real)
    await call(write_file, ctx, path="link.txt", content="new")
    assert (ctx.cwd / "link.txt").is_symlink()
    assert real.read_text() == "new"


async def test_write_refuses_a_directory(ctx: ToolContext) -> None:
    (ctx.cwd / "d").mkdir()
    with pytest.raises(ToolError, match="is a directory"):
        await call(write_file, ctx, path="d", content="x")


# -- patch -------------------------------------------------------------------


@pytest.fixture
def module(ctx: ToolContext) -> Path:
    path = ctx.cwd / "mod.py"
    path.write_text(
        "def greet(name):\n"
        "    return 'hello ' + name\n"
        "\n"
        "def part():\n"
        "    x = 1\n"
        "    x = 1\n"
        "    x = 1\n"
    )
    return path


async def test_patch_replaces_a_unique_string(ctx: ToolContext, module: Path) -> None:
    out = await call(
        patch, ctx, path="mod.py", old_string="'hello ' + name", new_string="f'hi {name}'"
    )
    assert "    return f'hi {name}'\n" in module.read_text()
    assert "replaced 1 occurrence at line 2" in out
    assert "     2|    return f'hi {name}'" in out


async def test_patch_missing_string_points_at_the_closest_line(ctx: ToolContext, module: Path):
    with pytest.raises(ToolError, match=r"not found.*closest line is 1: 'def greet\(name\):'"):
        await call(patch, ctx, path="mod.py", old_string="def greet(nme):", new_string="x")


async def test_patch_missing_string_explains_whitespace_mismatch(ctx: ToolContext, module: Path):
    with pytest.raises(ToolError, match="matches lines 1-2 if indentation"):
        await call(
            patch,
            ctx,
            path="mod.py",
            old_string="def greet(name):\n  return 'hello ' + name",
            new_string="x",
        )


async def test_patch_ambiguous_string_says_how_many(ctx: ToolContext, module: Path) -> None:
    before = module.read_text()
    with pytest.raises(ToolError, match=r"occurs 3 times.*lines 5, 6, 7.*replace_all"):
        await call(patch, ctx, path="mod.py", old_string="x = 1", new_string="x = 2")
    assert module.read_text() == before


async def test_patch_replace_all(ctx: ToolContext, module: Path) -> None:
    out = await call(
        patch, ctx, path="mod.py", old_string="x = 1", new_string="x = 2", replace_all=True
    )
    assert module.read_text().count("x = 2") == 3
    assert "x = 1" not in module.read_text()
    assert "replaced 3 occurrences at lines 5, 6, 7" in out


async def test_patch_rejects_empty_or_identical_strings(ctx: ToolContext, module: Path):
    with pytest.raises(ToolError, match="old_string is empty"):
        await call(patch, ctx, path="mod.py", old_string="", new_string="x")
    with pytest.raises(ToolError, match="identical"):
        await call(patch, ctx, path="mod.py", old_string="x = 1", new_string="x = 1")
    with pytest.raises(ToolError, match="file not found"):
        await call(patch, ctx, path="nope.py", old_string="a", new_string="b")


async def test_patch_keeps_crlf_and_undecodable_bytes(ctx: ToolContext) -> None:
    path = ctx.cwd / "win.txt"
    path.write_bytes(b"caf\xe9\r\nfirst\r\nsecond\r\n")
    await call(patch, ctx, path="win.txt", old_string="first\nsecond", new_string="one\ntwo")
    assert path.read_bytes() == b"caf\xe9\r\none\r\ntwo\r\n"


async def test_patch_explains_a_redacted_placeholder(ctx: ToolContext) -> None:
    (ctx.cwd / "cfg.ini").write_text("key = sk-proj-abcdefghijklmnopqrstuvwx\n")
    with pytest.raises(ToolError, match=r"contains \[REDACTED\]"):
        await call(patch, ctx, path="cfg.ini", old_string="key = [REDACTED]", new_string="k = 1")


# -- search_files ------------------------------------------------------------


@pytest.fixture
def repo(ctx: ToolContext) -> Path:
    """A small git-like tree: root and nested .gitignore files, junk that must be skipped."""
    root = ctx.cwd
    files = {
        ".gitignore": "build/\n*.log\n",
        "app.py": "import os\n\ndef handler_one():\n    return os.getcwd()\n",
        "README.md": "Call handler_one() to start.\n",
        "sub/.gitignore": "generated.py\n!keep.log\n",
        "sub/util.py": "def handler_two():\n    pass\n",
        "sub/generated.py": "def handler_generated():\n    pass\n",
        "sub/keep.log": "handler_kept_log\n",
        "sub/drop.log": "handler_dropped_log\n",
        "build/out.py": "def handler_built():\n    pass\n",
        ".git/config": "handler_in_git_dir\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "blob.bin").write_bytes(b"handler_binary\x00\x01\x02")
    (root / "big.txt").write_text("handler_big\n" + "z" * (3 * 1024 * 1024))
    return root


async def test_search_finds_matches_relative_to_root(ctx: ToolContext, repo: Path) -> None:
    out = await call(search_files, ctx, pattern=r"def handler_\w+")
    assert out.splitlines() == ["app.py:3: def handler_one():", "sub/util.py:1: def handler_two():"]


async def test_search_respects_nested_gitignore_and_skips_junk(ctx: ToolContext, repo: Path):
    out = await call(search_files, ctx, pattern="handler_")
    found = {line.split(":", 1)[0] for line in out.splitlines()}
    assert found == {"app.py", "README.md", "sub/util.py", "sub/keep.log"}


async def test_search_in_subdirectory_applies_parent_gitignore(ctx: ToolContext, repo: Path):
    (repo / "sub" / "more.log").write_text("handler_more\n")
    out = await call(search_files, ctx, pattern="handler_", path="sub")
    found = {line.split(":", 1)[0] for line in out.splitlines()}
    assert found == {"util.py", "keep.log"}


async def test_search_inside_an_ignored_directory_when_asked(ctx: ToolContext, repo: Path):
    out = await call(search_files, ctx, pattern="handler_", path="build")
    assert out == "out.py:1: def handler_built():"


async def test_search_glob_filters_paths(ctx: ToolContext, repo: Path) -> None:
    assert await call(search_files, ctx, pattern="handler", glob="*.md") == (
        "README.md:1: Call handler_one() to start."
    )
    out = await call(search_files, ctx, pattern="handler", glob="*.{py,md}")
    assert {line.split(":", 1)[0] for line in out.splitlines()} == {
        "app.py",
        "README.md",
        "sub/util.py",
    }


async def test_search_caps_results_with_a_note(ctx: ToolContext) -> None:
    (ctx.cwd / "many.txt").write_text("".join(f"hit {n}\n" for n in range(50)))
    lines = (await call(search_files, ctx, pattern="hit", max_results=5)).splitlines()
    assert lines[:5] == [f"many.txt:{n + 1}: hit {n}" for n in range(5)]
    assert len(lines) == 6
    assert "first 5 matches" in lines[5]


async def test_search_invalid_regex_and_missing_path(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="invalid regular expression"):
        await call(search_files, ctx, pattern="foo(")
    with pytest.raises(ToolError, match="file not found"):
        await call(search_files, ctx, pattern="x", path="missing")


async def test_search_without_matches_says_what_was_searched(ctx: ToolContext, repo: Path):
    out = await call(search_files, ctx, pattern="no_such_text_anywhere")
    assert out.startswith("No matches")
    assert "skipped 2" in out  # the binary and the big file


async def test_search_a_single_file(ctx: ToolContext, repo: Path) -> None:
    assert await call(search_files, ctx, pattern="getcwd", path="app.py") == (
        "app.py:4:     return os.getcwd()"
    )


async def test_fifos_are_refused_and_skipped_instead_of_blocking(ctx: ToolContext) -> None:
    # Opening a FIFO for reading blocks until a writer appears: in a worker
    # thread that cannot be cancelled, that would hang the run for good.
    os.mkfifo(ctx.cwd / "pipe")
    (ctx.cwd / "real.txt").write_text("needle\n")
    with pytest.raises(ToolError, match="not a regular file"):
        await call(read_file, ctx, path="pipe")
    assert await call(search_files, ctx, pattern="needle") == "real.txt:1: needle"


async def test_search_shows_a_window_of_very_long_lines(ctx: ToolContext) -> None:
    (ctx.cwd / "min.js").write_text("a" * 5000 + "NEEDLE" + "b" * 5000 + "\n")
    out = await call(search_files, ctx, pattern="NEEDLE")
    assert out.startswith("min.js:1: …a")
    assert "NEEDLE" in out
    assert out.endswith("b…")
    assert len(out) < 400


def test_unencodable_content_is_a_tool_error(ctx: ToolContext) -> None:
    # JSON arguments cannot carry lone surrogates, but library callers can.
    with pytest.raises(ToolError, match="cannot be written as UTF-8"):
        write_file.fn(ctx=ctx, path="bad.txt", content="ok \ud800 not ok")
    assert not (ctx.cwd / "bad.txt").exists()
