"""``session_search``: the agent's memory of past conversations.

Searches every stored session except the current one (full-text with stemming,
plus substring/identifier/CJK matching), so the model can recall what was
decided, built or found before without the user repeating it.
"""

from __future__ import annotations

import datetime as dt

from talaria import concurrency
from talaria.errors import ToolError
from talaria.tools.base import Tool, ToolContext, tool


@tool(toolset="session_search")
async def session_search(ctx: ToolContext, query: str, limit: int = 10) -> str:
    """Search past conversations (every stored session except this one).

    Use it when the user refers to earlier work ("like we did last week", "the
    bug from yesterday") or when knowing a past decision would help. Matches
    words (with stemming), exact phrases in double quotes, and substrings such as
    identifiers, file names or Chinese/Japanese/Korean text. Returns one line per
    hit: session id, title, date, message number, role and a snippet with the
    matches in [brackets]. Use `talaria sessions show ID` style ids to refer back.

    Args:
        query: Words, a "quoted phrase", an identifier or a substring to look for.
        limit: Maximum number of hits to return (1-50).
    """
    if ctx.open_store is None:
        raise ToolError("no session store is available in this run")
    if not query.strip():
        raise ToolError("the query is empty")
    limit = max(1, min(limit, 50))
    store = await ctx.open_store()
    hits = await concurrency.to_thread(
        store.search, query, limit=limit, exclude_session=ctx.session_id
    )
    if not hits:
        return f"No past messages match {query!r}."
    lines = [f"{len(hits)} match(es) for {query!r}:"]
    for h in hits:
        when = dt.datetime.fromtimestamp(h.created_at).strftime("%Y-%m-%d")
        title = f" “{h.session_title}”" if h.session_title else ""
        snippet = " ".join(h.snippet.split())
        lines.append(f"- session {h.session_id}{title} ({when}) #{h.seq} {h.role}: {snippet}")
    return "\n".join(lines)


TOOLS: list[Tool] = [session_search]
