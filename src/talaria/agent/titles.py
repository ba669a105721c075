"""Session titles, written by the ``title`` side task after the first exchange.

Titles come from a model, so they are treated as untrusted text: control and
zero-width characters are stripped, whitespace collapsed, surrounding quotes
and trailing punctuation removed, and the result cut to 80 characters.  They
are unique in the store; a clash gets " (2)", " (3)"….
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from talaria import concurrency
from talaria.store.base import StoreError
from talaria.types import Message, Usage

if TYPE_CHECKING:
    from talaria.config import Settings
    from talaria.runtime import Runtime
    from talaria.store.base import SessionStore

MAX_TITLE = 80
TITLE_PROMPT = (
    "Write a short title (3 to 7 words) for this conversation, in the language of the user's "
    "message. Reply with the title only: no quotes, no trailing punctuation."
)
_DROP_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}  # control, format (zero-width…)


def sanitize_title(raw: str) -> str | None:
    text = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in unicodedata.normalize("NFC", raw)
        if ch in "\t\n\r" or unicodedata.category(ch) not in _DROP_CATEGORIES
    )
    text = " ".join(text.split())
    for prefix in ("title:", "Title:", "TITLE:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    text = text.strip("\"'`“”‘’*# ").rstrip(".!?;:,").strip()
    if len(text) > MAX_TITLE:
        cut = text[: MAX_TITLE - 1]
        if " " in cut[MAX_TITLE // 2 :]:
            cut = cut[: cut.rindex(" ")]
        text = cut.rstrip(" ,;:-") + "…"
    return text or None


async def apply_unique_title(store: SessionStore, session_id: str, title: str) -> str:
    """Rename to ``title``, or ``title (2)``, ``(3)``… if another session has it."""
    for n in range(1, 100):
        candidate = title if n == 1 else f"{title[: MAX_TITLE - 5]} ({n})"
        try:
            await concurrency.to_thread(store.rename, session_id, candidate)
            return candidate
        except StoreError as e:
            if "already used" not in str(e):
                raise
    raise StoreError(f"no free title like {title!r}")


async def generate_title(
    runtime: Runtime, settings: Settings, session_id: str, first_user: str, answer: str
) -> tuple[str, Usage]:
    """Ask the ``title`` side task, sanitise, store uniquely; returns (title, usage)."""
    prompt = [
        Message.system(TITLE_PROMPT),
        Message.user(f"User: {first_user[:2000]}\n\nAssistant: {answer[:2000]}"),
    ]
    result = await runtime.aux(settings).call("title", prompt, max_tokens=40)
    title = sanitize_title(result.text)
    if title is None:
        raise StoreError(f"the title model ({result.endpoint.model}) returned no usable title")
    store = await runtime.astore(settings)
    stored = await apply_unique_title(store, session_id, title)
    await store.aadd_aux_usage(session_id, "title", result.usage)
    return stored, result.usage
