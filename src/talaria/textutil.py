"""Small text helpers shared by tools, renderers and the provider layer."""

from __future__ import annotations


def truncate_middle(text: str, limit: int, *, what: str = "characters") -> str:
    """Cap ``text`` at about ``limit`` characters, keeping the head and the tail.

    The beginning of output usually says what ran and the end says how it ended
    (the error, the exit status), so both are kept and a marker states how much
    was removed: the model must know the output is incomplete.
    """
    if limit <= 0 or len(text) <= limit:
        return text
    head = int(limit * 0.6)
    tail = limit - head
    removed = len(text) - head - tail
    return f"{text[:head]}\n\n[... {removed} {what} truncated ...]\n\n{text[-tail:]}"


def one_line(text: str, limit: int = 120) -> str:
    """Collapse whitespace and cut to ``limit`` characters, for compact activity lines."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
