"""Approximate list prices (USD per million tokens) for common models.

Used only when the provider does not report the billed cost itself (OpenRouter
does).  Prices drift; ``model.pricing`` in config overrides this table, and an
unknown model has ``cost_usd = None`` rather than a made-up number.
"""

from __future__ import annotations

from talaria.types import Usage

# Keys are matched against the model name without its vendor prefix, longest first.
_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "claude-3.5-haiku": (0.80, 4.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-haiku-4.5": (1.00, 5.00),
    "claude-3.5-sonnet": (3.00, 15.00),
    "claude-3.7-sonnet": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-sonnet-4.5": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-opus-4.1": (15.00, 75.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
}
_KEYS = sorted(_PRICES, key=len, reverse=True)


def price_for(model: str) -> tuple[float, float] | None:
    name = model.rsplit("/", 1)[-1].lower()
    for key in _KEYS:
        if name == key or name.startswith(key + "-") or name.startswith(key + ":"):
            return _PRICES[key]
    return None


def with_cost(usage: Usage, model: str, override: tuple[float, float] | None = None) -> Usage:
    """Fill ``cost_usd`` from the price table when the provider did not report it."""
    if usage.cost_usd is not None:
        return usage
    price = override or price_for(model)
    if price is None:
        return usage
    cost = (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1_000_000
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost_usd=cost,
    )
