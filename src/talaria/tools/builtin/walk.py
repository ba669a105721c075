"""Walking and searching a directory tree the way git sees it.

``search_files`` should look where a developer would: not in ``.git``, not in
build output, virtualenvs or ``node_modules`` that the project's ``.gitignore``
files exclude.  Rules follow git's: every ``.gitignore`` applies to the
directory it sits in and below, a deeper file overrides a shallower one (so
``!keep.log`` deeper down re-includes), ``.git/info/exclude`` sits below the
repository's root ``.gitignore``, and an ignored directory is not entered at
all.  When the search starts inside a repository, the ``.gitignore`` files of
the directories above it still apply, as they do for ``git status``.

The walk is deterministic (sorted) so that the same search gives the same
results, and a truncated result list is a stable prefix.  :func:`grep` runs a
regex over the walked files, skipping what is not source: binary files, files
over 2 MB, and anything that is not a regular file.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: pathspec costs ~30 ms, paid only when searching
    import pathspec

ALWAYS_SKIPPED = frozenset({".git"})
"""Directory names never searched, whatever the ignore files say."""
MAX_FILE_BYTES = 2 * 1024 * 1024
"""Larger files are skipped by :func:`grep`: generated data, not source."""
LINE_CHARS = 300
SNIFF_BYTES = 8192
_TEXT_CONTROL = frozenset(b"\t\n\r\f\b\x1b")


def looks_binary(chunk: bytes) -> bool:
    """The heuristic git and grep use: a NUL byte, or mostly control characters."""
    if not chunk:
        return False
    if b"\0" in chunk:
        return True
    control = sum(1 for b in chunk if b < 32 and b not in _TEXT_CONTROL)
    return control / len(chunk) > 0.3


@dataclass(frozen=True, slots=True)
class _Rules:
    """One ignore file: its patterns apply to paths relative to ``base``."""

    base: Path
    spec: pathspec.GitIgnoreSpec


def _load(file: Path, base: Path) -> _Rules | None:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # missing, unreadable or a directory: no rules from it
        return None
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        return None
    import pathspec

    return _Rules(base, pathspec.GitIgnoreSpec.from_lines(lines))


def is_ignored(path: Path, is_dir: bool, chain: Sequence[_Rules]) -> bool:
    """Whether ``path`` is ignored by ``chain`` (ordered shallowest first).

    The deepest rule set with an opinion (a match or a negation) decides, as in
    git; within one file the last matching pattern wins (pathspec does that).
    """
    for rules in reversed(chain):
        try:
            rel = path.relative_to(rules.base).as_posix()
        except ValueError:
            continue
        if rel == ".":
            continue
        result = rules.spec.check_file(rel + "/" if is_dir else rel)
        if result.include is not None:
            return bool(result.include)
    return False


def _repo_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _ancestor_rules(root: Path) -> list[_Rules]:
    """Rules from the enclosing repository that apply to ``root`` from above."""
    repo = _repo_root(root)
    if repo is None:
        return []
    chain: list[_Rules] = []
    exclude = _load(repo / ".git" / "info" / "exclude", repo)
    if exclude is not None:
        chain.append(exclude)
    if repo == root:
        return chain  # root's own .gitignore is read by the walk
    directory = repo
    for part in root.relative_to(repo).parts:
        rules = _load(directory / ".gitignore", directory)
        if rules is not None:
            chain.append(rules)
        directory = directory / part
    # Searching inside an ignored directory on purpose (say, a vendored
    # package) must not come back empty because of that very ignore rule.
    if is_ignored(root, True, chain):
        return []
    return chain


def iter_files(root: Path, *, respect_gitignore: bool = True) -> Iterator[Path]:
    """Yield the files under ``root``, skipping ignored ones.

    The order is stable: a directory's files (sorted by name) come before its
    subdirectories (sorted by name, each walked the same way).

    ``root`` must be a directory.  Symlinked directories are not followed (they
    can loop or leave the tree); symlinked files are yielded.  Directories that
    cannot be read are skipped silently, like ``git status`` does.
    """
    root = root.resolve()
    chains: dict[str, list[_Rules]] = {
        str(root): _ancestor_rules(root) if respect_gitignore else []
    }
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        chain = chains.pop(dirpath, [])
        if respect_gitignore and ".gitignore" in filenames:
            own = _load(here / ".gitignore", here)
            if own is not None:
                chain = [*chain, own]
        kept_dirs = []
        for name in sorted(dirnames):
            if name in ALWAYS_SKIPPED:
                continue
            if chain and is_ignored(here / name, True, chain):
                continue
            kept_dirs.append(name)
            chains[str(here / name)] = chain  # == the dirpath os.walk will give
        dirnames[:] = kept_dirs  # prune in place: os.walk descends only into these
        for name in sorted(filenames):
            path = here / name
            if chain and is_ignored(path, False, chain):
                continue
            yield path


def expand_braces(pattern: str) -> list[str]:
    """``*.{ts,tsx}`` -> ``["*.ts", "*.tsx"]``: models write ripgrep-style globs."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    for end in range(start, len(pattern)):
        ch = pattern[end]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
    else:
        return [pattern]  # unbalanced: take it literally
    inner = pattern[start + 1 : end]
    alternatives: list[str] = []
    depth = 0
    current = ""
    for ch in inner:
        if ch == "," and depth == 0:
            alternatives.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    alternatives.append(current)
    prefix, suffix = pattern[:start], pattern[end + 1 :]
    out: list[str] = []
    for alt in alternatives:
        out.extend(expand_braces(prefix + alt + suffix))
    return out


def glob_matcher(glob: str) -> pathspec.PathSpec[Any]:
    """A matcher for relative POSIX paths with gitignore-style glob semantics.

    ``*.py`` matches at any depth, ``src/**/*.py`` matches under ``src``, and
    brace alternatives are expanded first.
    """
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(expand_braces(glob.strip()))


@dataclass
class GrepResult:
    lines: list[str] = field(default_factory=list)
    """``path:line: text`` for each match, in walk order."""
    more: bool = False
    """True when matches beyond ``max_results`` exist (the walk stopped there)."""
    searched: int = 0
    skipped: int = 0
    """Files not searched: binary, too large, unreadable or not regular files."""


def _excerpt(line: str, match: re.Match[str]) -> str:
    """The line, or for a long line (minified code) a window around the match."""
    line = line.rstrip("\r\n")
    if len(line) <= LINE_CHARS:
        return line
    start = max(match.start() - LINE_CHARS // 3, 0)
    piece = line[start : start + LINE_CHARS]
    return ("…" if start else "") + piece + ("…" if start + LINE_CHARS < len(line) else "")


def grep(
    files: Iterable[Path],
    base: Path,
    regex: re.Pattern[str],
    *,
    matcher: pathspec.PathSpec[Any] | None,
    max_results: int,
) -> GrepResult:
    """Search ``files`` line by line; paths are shown relative to ``base``.

    Only regular files are opened: a FIFO in the tree would block the worker
    thread forever, and a device could be endless.
    """
    result = GrepResult()
    for file in files:
        rel = file.relative_to(base).as_posix()
        if matcher is not None and not matcher.match_file(rel):
            continue
        try:
            st = file.stat()
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
                result.skipped += 1
                continue
            with file.open("rb") as f:
                if looks_binary(f.read(SNIFF_BYTES)):
                    result.skipped += 1
                    continue
            handle = file.open(encoding="utf-8", errors="replace")
        except OSError:  # unreadable or a broken symlink: not searchable
            result.skipped += 1
            continue
        result.searched += 1
        with handle:
            for number, line in enumerate(handle, start=1):
                m = regex.search(line)
                if m is None:
                    continue
                if len(result.lines) == max_results:
                    result.more = True
                    return result
                result.lines.append(f"{rel}:{number}: {_excerpt(line, m)}")
    return result
