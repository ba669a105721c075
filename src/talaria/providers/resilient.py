"""Retries with backoff, then the fallback chain, then one clear error.

Wraps an ordered chain of providers (primary first, then ``fallback_providers``).
Per provider: retryable errors (429, 5xx/overloaded, network) are retried with
exponential backoff and full jitter, honouring ``Retry-After``, within a total
time budget.  Non-retryable errors (auth, quota, bad request) move straight on
to the next provider.  A context overflow is raised at once: a different
provider would not make the prompt fit, and the caller may compress instead.

A stream that already produced text is never retried: the user has seen part of
an answer, and replaying it would duplicate output.  That error is raised.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing

from talaria import errors
from talaria.config_schema import RetryConfig
from talaria.events import Notice
from talaria.providers.base import ModelRequest, Provider, StreamItem


def backoff_delay(
    attempt: int, cfg: RetryConfig, retry_after: float | None, rng: random.Random
) -> float:
    """Delay before retry number ``attempt`` (0-based)."""
    ceiling = min(cfg.max_delay, cfg.base_delay * (2**attempt))
    jittered = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        # The server told us when; never go earlier, add a little spread so many
        # clients told the same second do not stampede together.
        return retry_after + rng.uniform(0, min(1.0, retry_after * 0.1))
    return jittered


class ResilientProvider:
    """A ``Provider`` over a chain: retries per provider, then falls back."""

    def __init__(
        self,
        chain: Sequence[Provider],
        retry: RetryConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not chain:
            raise ValueError("ResilientProvider needs at least one provider")
        self.chain = list(chain)
        self._retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()

    @property
    def name(self) -> str:
        return self.chain[0].name

    @property
    def model(self) -> str:
        return self.chain[0].model

    async def aclose(self) -> None:
        for p in self.chain:
            await p.aclose()

    async def warm(self) -> None:
        """Prepare the primary provider's connection machinery ahead of the first call."""
        warm = getattr(self.chain[0], "warm", None)
        if warm is not None:
            await warm()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamItem, None]:
        failures: list[errors.ProviderError] = []
        for position, provider in enumerate(self.chain):
            if position > 0:
                last = failures[-1]
                yield Notice(
                    level="warning",
                    message=f"falling back to {provider.name}/{provider.model} after: {last}",
                )
            started = time.monotonic()
            waited = 0.0
            attempt = 0
            while True:
                emitted = False
                try:
                    async with aclosing(provider.stream(request)) as items:
                        async for item in items:
                            if not isinstance(item, Notice):
                                emitted = True
                            yield item
                    return
                except errors.ProviderError as e:
                    if emitted or isinstance(e, errors.ContextOverflowError):
                        raise
                    failures.append(e)
                    if not e.retryable or attempt >= self._retry.max_retries:
                        break
                    retry_after = getattr(e, "retry_after", None)
                    delay = backoff_delay(attempt, self._retry, retry_after, self._rng)
                    # Time spent includes requests and sleeps; count sleeps explicitly too
                    # so an injected (test) clock cannot make the budget unlimited.
                    spent = max(time.monotonic() - started, waited)
                    if spent + delay > self._retry.budget:
                        break
                    waited += delay
                    attempt += 1
                    yield Notice(
                        level="warning",
                        message=(
                            f"{e.kind.replace('_', ' ')} from {provider.name}: retrying in "
                            f"{delay:.1f}s (attempt {attempt + 1} of "
                            f"{self._retry.max_retries + 1})"
                        ),
                    )
                    await self._sleep(delay)
            if not failures[-1].fallback_ok:
                raise failures[-1]
        last = failures[-1]
        if len(self.chain) == 1:
            if len(failures) > 1:
                last.args = (f"{last} (gave up after {len(failures)} attempts)",)
            raise last
        per_provider: dict[str, errors.ProviderError] = {}
        for f in failures:
            per_provider[f"{f.provider}/{f.model}"] = f
        lines = "; ".join(f"{where}: {f}" for where, f in per_provider.items())
        raise errors.ProviderUnavailable(
            f"every provider failed ({len(failures)} attempts) — {lines}", attempts=failures
        )
