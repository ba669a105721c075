"""Context windows of common models (tokens), for ``/context`` and compression.

Matched on the model name without its vendor prefix, longest key first;
``model.context_length`` in config overrides.  Unknown models report None
rather than a guess.
"""

from __future__ import annotations

_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "claude-3.5-haiku": 200_000,
    "claude-3-5-haiku": 200_000,
    "claude-3.5-sonnet": 200_000,
    "claude-3.7-sonnet": 200_000,
    "claude-haiku-4.5": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-sonnet-4.5": 200_000,
    "claude-opus-4": 200_000,
    "claude-opus-4.1": 200_000,
    "gemini-2.5-flash": 1_048_576,
    "gemini-2.5-pro": 1_048_576,
    "deepseek-chat": 128_000,
    "deepseek-reasoner": 128_000,
    "llama3.1": 128_000,
    "qwen2.5-coder": 32_768,
    "hermes-4": 131_072,
}
_KEYS = sorted(_WINDOWS, key=len, reverse=True)


def context_window(model: str, override: int | None = None) -> int | None:
    if override:
        return override
    name = model.rsplit("/", 1)[-1].lower()
    for key in _KEYS:
        if name == key or name.startswith((key + "-", key + ":")):
            return _WINDOWS[key]
    return None


def estimate_tokens(text: str) -> int:
    """≈ 4 characters per token: good enough for a fill gauge, never for billing."""
    return (len(text) + 3) // 4
