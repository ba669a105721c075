"""The ``file`` toolset: read, write, patch and search files exactly.

These tools exist so the model does not have to edit through ``sed`` and
``cat``: reads come back with line numbers the model can cite and continue
from, writes are atomic (a crash or a cancelled run never leaves half a file),
and a patch either applies to exactly the text the model meant or fails with a
message that says how to fix the call.  Every failure is a ``ToolError`` the
model reads; none of them is a crash.

All of this is blocking file I/O, written as plain sync functions:
``Tool.invoke`` runs them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import difflib
import os
import re
import secrets
from pathlib import Path

from talaria.errors import ToolError
from talaria.secrets import REDACTED
from talaria.tools.base import Tool, ToolContext, tool
from talaria.tools.builtin.walk import SNIFF_BYTES, glob_matcher, grep, iter_files, looks_binary

MAX_READ_LINES = 2000
MAX_LINE_CHARS = 2000
SEARCH_MAX_RESULTS = 1000
_COUNT_REST_MAX_BYTES = 64 * 1024 * 1024


def _missing(path: Path) -> ToolError:
    parent = path.parent
    if not parent.is_dir():
        return ToolError(f"file not found: {path} (directory {parent} does not exist)")
    try:
        siblings = [p.name for p in parent.iterdir()]
    except OSError:
        siblings = []
    close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
    hint = f"; similar names in {parent}: {', '.join(close)}" if close else ""
    return ToolError(f"file not found: {path}{hint}")


def _require_text_file(path: Path) -> None:
    """Fail clearly for anything ``read_file``/``patch`` cannot treat as text."""
    if path.is_dir():
        raise ToolError(
            f"{path} is a directory, not a file; use search_files to look inside it "
            "or the terminal (`ls`) to list it"
        )
    if not path.exists():
        raise _missing(path)
    if not path.is_file():  # a FIFO would block the worker thread forever
        raise ToolError(f"{path} is not a regular file (a device, socket or pipe)")
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as e:
        raise ToolError(f"cannot read {path}: {e.strerror or e}") from None
    if looks_binary(head):
        size = path.stat().st_size
        raise ToolError(
            f"{path} is a binary file ({size} bytes); these tools only handle text. "
            "Use the terminal to inspect it (e.g. `file`, `xxd | head`)."
        )


def _cap_line(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}… [line truncated, {len(line) - MAX_LINE_CHARS} more chars]"


@tool(toolset="file")
def read_file(ctx: ToolContext, path: str, offset: int = 1, limit: int = 500) -> str:
    """Read a text file, returning its lines prefixed with line numbers (`    12|text`).

    The number and the `|` are not part of the file: leave them out when you
    copy text into `patch`. At most `limit` lines are returned per call; when
    more remain, a note at the end gives the `offset` to continue from. Very
    long lines are shortened, and output is cut early (with the same note) if
    it would be too large for one result. Binary files and directories are
    refused with an explanation. Secret values (API keys, tokens) are shown
    as [REDACTED]. Use `search_files` to find where something is before
    reading a large file.

    Args:
        path: File to read, absolute or relative to the working directory.
        offset: Line number to start from (1 = first line).
        limit: Maximum number of lines to return (at most 2000).
    """
    if offset < 1:
        raise ToolError(f"offset must be 1 or more (line numbers start at 1), got {offset}")
    if limit < 1:
        raise ToolError(f"limit must be 1 or more, got {limit}")
    limit = min(limit, MAX_READ_LINES)
    target = ctx.resolve(path)
    _require_text_file(target)
    budget = max(ctx.settings.config.agent.max_tool_output_chars - 200, 1000)
    out: list[str] = []
    used = 0
    total = 0
    last_shown = offset - 1
    rest_counted = True
    size = target.stat().st_size
    with target.open(encoding="utf-8", errors="replace", newline=None) as f:
        for number, raw in enumerate(f, start=1):
            total = number
            if number < offset:
                continue
            if len(out) >= limit or used >= budget:
                if size > _COUNT_REST_MAX_BYTES:
                    rest_counted = False  # do not scan gigabytes just to count lines
                    break
                continue
            line = f"{number:>6}|{_cap_line(raw.rstrip(chr(10)))}"
            out.append(line)
            used += len(line) + 1
            last_shown = number
    if total == 0:
        return f"(empty file: {target})"
    if offset > total:
        raise ToolError(f"offset {offset} is past the end of {target}, which has {total} lines")
    if last_shown < total or not rest_counted:
        of_total = f" of {total}" if rest_counted else ""
        out.append(
            f"[showing lines {offset}-{last_shown}{of_total}; more lines remain: "
            f"call read_file with offset={last_shown + 1} to continue]"
        )
    elif offset > 1:
        out.append(f"[lines {offset}-{last_shown} of {total}; end of file]")
    return ctx.redact("\n".join(out))


def atomic_write(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` so readers see the old or the new file, never half.

    The temporary file lives in the same directory (``os.replace`` is only
    atomic within a filesystem) and is created with the permissions the
    target has, or with the default ones (0666 less the umask) for a new
    file, so a rewrite does not turn an executable script into a
    non-executable one.
    """
    try:
        mode: int | None = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _encode(text: str, what: str, errors: str = "strict") -> bytes:
    try:
        return text.encode("utf-8", errors=errors)
    except UnicodeEncodeError as e:
        raise ToolError(
            f"{what} contains characters that cannot be written as UTF-8 ({e.reason} at "
            f"position {e.start}); remove the unpaired surrogate escapes"
        ) from None


def _line_count(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


@tool(toolset="file")
def write_file(ctx: ToolContext, path: str, content: str) -> str:
    """Create or completely overwrite a file with `content`.

    Missing parent directories are created. The write is atomic: the old file
    stays intact until the new one is complete. This replaces the whole file,
    so to change part of an existing file use `patch` instead (it is safer and
    cheaper than rewriting everything). Content is written as UTF-8 exactly as
    given; include the final newline if the file should end with one.

    Args:
        path: File to write, absolute or relative to the working directory.
        content: The complete new content of the file.
    """
    target = ctx.resolve(path)
    if target.is_symlink():
        target = target.resolve()  # write through the link, keep the link itself
    if target.is_dir():
        raise ToolError(f"{target} is a directory; give a file path to write")
    existed = target.exists()
    data = _encode(content, "content")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)
    except (FileExistsError, NotADirectoryError):
        raise ToolError(f"cannot create {target}: a parent path is a file") from None
    except OSError as e:
        raise ToolError(f"cannot write {target}: {e.strerror or e}") from None
    verb = "Overwrote" if existed else "Created"
    return f"{verb} {target}: {len(data)} bytes, {_line_count(content)} lines"


def _not_found_hint(text: str, old: str) -> str:
    """Explain why ``old`` did not match: whitespace, or the closest line."""
    file_lines = text.splitlines()
    old_lines = [ln.strip() for ln in old.strip("\n").splitlines()]
    n = len(old_lines)
    if n and any(old_lines):
        stripped = [ln.strip() for ln in file_lines]
        for i in range(len(stripped) - n + 1):
            if stripped[i : i + n] == old_lines:
                return (
                    f" It matches lines {i + 1}-{i + n} if indentation and surrounding "
                    "whitespace are ignored: copy the exact text (spaces, tabs) from "
                    "read_file, without the line-number prefix."
                )
    first = next((ln for ln in old_lines if ln), "")
    if not first or len(file_lines) > 50_000:
        return " Re-read the file with read_file and copy the text exactly."
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(first)
    best, best_ratio = -1, 0.0
    for i, line in enumerate(file_lines):
        matcher.set_seq1(line.strip())
        if matcher.real_quick_ratio() > best_ratio and matcher.ratio() > best_ratio:
            best, best_ratio = i, matcher.ratio()
    if best >= 0 and best_ratio >= 0.5:
        return (
            f" The closest line is {best + 1}: {file_lines[best].strip()[:200]!r}."
            " Re-read the file with read_file and copy the text exactly."
        )
    return " Re-read the file with read_file and copy the text exactly."


def _snippet(text: str, first_line: int, count: int, context: int = 2, cap: int = 12) -> str:
    lines = text.splitlines()
    start = max(first_line - 1 - context, 0)
    end = min(first_line - 1 + count + context, len(lines), start + cap)
    return "\n".join(f"{i + 1:>6}|{_cap_line(lines[i])}" for i in range(start, end))


@tool(toolset="file")
def patch(
    ctx: ToolContext,
    path: str,
    old_string: str,
    new_string: str,
    replace_all: bool = False,
) -> str:
    """Edit a file by replacing an exact piece of text with new text.

    `old_string` must match the file exactly, including indentation and line
    breaks (copy it from read_file output without the line-number prefix). It
    must occur exactly once unless `replace_all` is true; if it occurs several
    times the call fails and says how many, so add surrounding lines to make
    it unique. If it is not found, the error points at the closest line. To
    delete text, pass an empty `new_string`. To create a file, use
    `write_file`. The write is atomic, and bytes outside the replaced text are
    kept exactly (line endings, encoding).

    Args:
        path: File to edit, absolute or relative to the working directory.
        old_string: The exact text to replace (non-empty; include enough
            context to be unique).
        new_string: The text to put in its place.
        replace_all: Replace every occurrence instead of requiring exactly one.
    """
    if not old_string:
        raise ToolError("old_string is empty; to create or overwrite a file use write_file")
    if old_string == new_string:
        raise ToolError("old_string and new_string are identical; nothing to change")
    target = ctx.resolve(path)
    _require_text_file(target)
    if target.is_symlink():
        target = target.resolve()
    # surrogateescape keeps undecodable bytes as they were when written back.
    text = target.read_bytes().decode("utf-8", errors="surrogateescape")
    count = text.count(old_string)
    if count == 0 and "\r\n" in text and "\n" in old_string and "\r\n" not in old_string:
        # The model writes "\n"; the file uses CRLF.  Match and write in its style.
        old_string = old_string.replace("\n", "\r\n")
        new_string = new_string.replace("\n", "\r\n")
        count = text.count(old_string)
    if count == 0:
        if REDACTED in old_string:
            raise ToolError(
                f"old_string not found in {target}: it contains {REDACTED}, which replaced a "
                "secret in the output you saw; the file holds the real value. Choose an "
                "old_string that does not include the redacted part."
            )
        raise ToolError(f"old_string not found in {target}.{_not_found_hint(text, old_string)}")
    starts = [m.start() for m in re.finditer(re.escape(old_string), text)]
    line_numbers = [text.count("\n", 0, i) + 1 for i in starts]
    if count > 1 and not replace_all:
        shown = ", ".join(map(str, line_numbers[:10])) + (", …" if count > 10 else "")
        raise ToolError(
            f"old_string occurs {count} times in {target} (at lines {shown}); include more "
            "surrounding context to make it unique, or set replace_all=true to replace all"
        )
    updated = text.replace(old_string, new_string)
    try:
        atomic_write(target, _encode(updated, "new_string", errors="surrogateescape"))
    except OSError as e:
        raise ToolError(f"cannot write {target}: {e.strerror or e}") from None
    where = ", ".join(map(str, line_numbers[:10])) + (", …" if len(line_numbers) > 10 else "")
    summary = (
        f"Patched {target}: replaced {len(starts)} occurrence{'s' if len(starts) > 1 else ''} "
        f"at line{'s' if len(starts) > 1 else ''} {where} "
        f"({_line_count(old_string)} lines -> {_line_count(new_string)} lines)"
    )
    if len(starts) > 1:
        return summary
    first = updated.count("\n", 0, starts[0]) + 1
    return ctx.redact(f"{summary}\n{_snippet(updated, first, max(_line_count(new_string), 1))}")


@tool(toolset="file")
def search_files(
    ctx: ToolContext,
    pattern: str,
    path: str = ".",
    glob: str | None = None,
    max_results: int = 100,
) -> str:
    """Search file contents for a regular expression, like `grep -rn` / ripgrep.

    Returns one line per match as `path:line: text`, paths relative to the
    searched directory, in a stable sorted order. Files and directories
    excluded by .gitignore files are skipped, and so is `.git`; binary files
    and files over 2 MB are skipped too. Matching is per line (a pattern
    cannot span lines) using Python `re` syntax; prefix it with `(?i)` for a
    case-insensitive search. At most `max_results` matches are returned and a
    note says when there were more: then narrow `path`, `glob` or the pattern.
    To find files by name rather than content, use the terminal (`find`,
    `ls`).

    Args:
        pattern: Regular expression to look for, e.g. `def \\w+_handler` or
            `TODO|FIXME`. Escape regex characters to search literal text.
        path: Directory (or single file) to search, relative to the working
            directory. Defaults to the working directory.
        glob: Only search files whose path matches this glob, e.g. `*.py`,
            `src/**/*.ts` or `*.{js,jsx}`.
        max_results: Maximum number of matching lines to return (at most 1000).
    """
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise ToolError(f"invalid regular expression {pattern!r}: {e}") from None
    if max_results < 1:
        raise ToolError(f"max_results must be 1 or more, got {max_results}")
    max_results = min(max_results, SEARCH_MAX_RESULTS)
    root = ctx.resolve(path)
    if not root.exists():
        raise _missing(root)
    matcher = glob_matcher(glob) if glob else None
    if root.is_dir():
        base = root.resolve()
        files = iter_files(base)
    else:
        base = root.resolve().parent
        files = iter([root.resolve()])
    found = grep(files, base, regex, matcher=matcher, max_results=max_results)
    if not found.lines:
        skipped = found.skipped
        note = f"; skipped {skipped} binary, unreadable or >2 MB files" if skipped else ""
        return f"No matches for {pattern!r} in {root} (searched {found.searched} files{note})"
    lines = found.lines
    if found.more:
        lines.append(
            f"[showing the first {max_results} matches; there are more. Narrow the pattern, "
            "path or glob, or raise max_results]"
        )
    return ctx.redact("\n".join(lines))


TOOLS: list[Tool] = [read_file, write_file, patch, search_files]
