"""The auxiliary router: side tasks (titles, compression, web extraction…) on cheap models.

``await router.call("title", messages)`` sends the request to exactly the
endpoint :func:`~talaria.providers.aux_routes.resolve_route` names, then to that
route's own fallbacks, and reports every failure.  Three things the reference
implementation got wrong are structural here:

* **One client per endpoint.**  Requests go through the runtime's shared
  :class:`~talaria.providers.pool.ClientPool` with the main model's connection
  settings, so main and side tasks on one server share one client.  Pooled
  async clients belong to one event loop, so a router is *bound* to one loop
  (the loop it was created on, else the first one it is used on) and every
  call runs there: ``call`` from a foreign loop and ``call_sync`` from any
  thread hop onto it.  Nothing is ever built on a second loop.
* **Timeouts do not poison the pool.**  The wall-clock ``timeout`` cancels the
  request, which closes its HTTP stream; the client itself is healthy and
  stays.  Only transport errors evict, and eviction is lease-based, so another
  caller's in-flight stream on the evicted client still completes.
* **Failures are reported.**  The final error names the task, every endpoint
  tried and why each failed; a missing key names the variable to set.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talaria import concurrency, errors
from talaria.events import Notice
from talaria.providers.aux_routes import (
    TASKS,
    AuxRoute,
    describe,
    resolve_all,
    resolve_route,
    where,
)
from talaria.providers.base import ModelRequest, ModelResponse
from talaria.providers.openai_compat import OpenAICompatProvider
from talaria.providers.presets import Endpoint
from talaria.providers.resilient import ResilientProvider
from talaria.types import Message, Usage

if TYPE_CHECKING:
    from talaria.config import Settings
    from talaria.providers.pool import ClientPool

_LOOP_SLACK = 10.0
"""Seconds ``call_sync`` waits beyond the route's own deadlines before giving up on the loop."""

__all__ = [
    "TASKS",
    "AuxEmptyAnswer",
    "AuxResult",
    "AuxRoute",
    "AuxTimeout",
    "AuxUnavailable",
    "AuxiliaryRouter",
    "resolve_route",
]


class AuxTimeout(errors.NetworkError):
    """A side-task request exceeded its wall-clock ``timeout`` (the stream was closed)."""

    kind = "timeout"


class AuxEmptyAnswer(errors.ProviderError):
    """The endpoint answered with no text, which no side task can use."""

    kind = "empty_answer"


class AuxUnavailable(errors.ProviderUnavailable):
    """Every endpoint of a side task's route failed; ``failures`` pairs each with its error."""

    def __init__(
        self, message: str, *, task: str, failures: list[tuple[Endpoint, errors.ProviderError]]
    ) -> None:
        super().__init__(message, attempts=[e for _, e in failures])
        self.task = task
        self.failures = failures


@dataclass(frozen=True, slots=True)
class AuxResult:
    """A side task's answer and the facts needed to account for and explain it."""

    text: str
    usage: Usage
    route: AuxRoute
    endpoint: Endpoint
    """The endpoint that answered (a fallback when the primary failed)."""
    attempts: tuple[str, ...] = ()
    """Failures before the success, one line per endpoint that failed."""

    def __repr__(self) -> str:  # Endpoint's own repr would print the API key
        return f"AuxResult(task={self.route.task!r}, via={describe(self.endpoint)!r})"


class AuxiliaryRouter:
    """Routes side tasks for one ``Settings``; share one per runtime (``Runtime.aux``).

    Thread-safe: ``call_sync`` may be used from many threads at once while tasks
    on the router's loop ``await call`` concurrently.
    """

    def __init__(
        self,
        settings: Settings,
        pool: ClientPool,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self._loop = loop or concurrency.running_loop()
        self._bind_lock = threading.Lock()
        self._routes: dict[str, AuxRoute] = {}
        # Touched only on the bound loop: one provider per endpoint, so what one learns
        # (a server that rejects streaming) sticks for the next call.
        self._providers: dict[Endpoint, OpenAICompatProvider] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop every request runs on: the one running when the router was created,
        else the first one it was used on (``None`` until then)."""
        return self._loop

    def serves(self, settings: Settings) -> bool:
        """Whether this router resolves exactly as a router for ``settings`` would."""
        return settings is self.settings or (
            settings.config == self.settings.config and settings.env == self.settings.env
        )

    def route(self, task: str) -> AuxRoute:
        """The resolved route for ``task`` (``ValueError`` if unknown, ``ConfigError`` if bad)."""
        route = self._routes.get(task)
        if route is None:
            route = resolve_route(self.settings, task)
            self._routes[task] = route
        return route

    def routes(self) -> dict[str, AuxRoute]:
        """Every task's route, in :data:`TASKS` order (for ``talaria doctor``)."""
        return resolve_all(self.settings)

    async def call(
        self,
        task: str,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> AuxResult:
        """Ask ``task``'s endpoint (then its fallbacks) and return the answer text.

        ``max_tokens`` and ``timeout`` override the route's; ``timeout`` is wall-clock
        seconds per endpoint.  Raises ``ProviderError``: ``MissingCredentials`` naming
        the variable, ``AuxTimeout``, or ``AuxUnavailable`` listing every failure.
        """
        route = self.route(task)
        running = asyncio.get_running_loop()
        loop = self._bind(running)
        if loop is running:
            return await self._call(route, messages, max_tokens, timeout)
        self._check_running(loop)
        return await concurrency.await_on_loop(
            loop, self._call(route, messages, max_tokens, timeout)
        )

    def call_sync(
        self,
        task: str,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> AuxResult:
        """:meth:`call` from synchronous code in any thread but the router's loop thread.

        A router not yet bound to a loop binds to the process's background loop.
        """
        route = self.route(task)
        loop = self._bind(None)
        if concurrency.running_loop() is loop:
            raise RuntimeError(
                "AuxiliaryRouter.call_sync() was called on the router's own event loop, "
                "where blocking would deadlock; use `await router.call(...)` there"
            )
        self._check_running(loop)
        # Each endpoint is bounded by its own deadline on the loop; this outer bound only
        # guards against a loop that stops or is blocked, so the thread never waits forever.
        limit = timeout if timeout is not None else route.timeout
        budget = limit * len(route.endpoints) + _LOOP_SLACK
        try:
            return concurrency.run_on_loop(
                loop, self._call(route, messages, max_tokens, timeout), timeout=budget
            )
        except TimeoutError:
            raise AuxTimeout(
                f"auxiliary task '{task}': the router's event loop did not finish the call "
                f"within {budget:g}s (is the loop blocked or stopping?)"
            ) from None

    @staticmethod
    def _check_running(loop: asyncio.AbstractEventLoop) -> None:
        if not loop.is_running():
            raise RuntimeError("the event loop this AuxiliaryRouter is bound to is not running")

    def _bind(self, running: asyncio.AbstractEventLoop | None) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            with self._bind_lock:
                if self._loop is None:
                    self._loop = running or concurrency.background_loop().loop
                loop = self._loop
        if loop.is_closed():
            raise RuntimeError(
                "the event loop this AuxiliaryRouter was bound to has closed, and the "
                "pooled clients with it; create a new Runtime (or router) for this loop"
            )
        return loop

    async def _call(
        self,
        route: AuxRoute,
        messages: Sequence[Message],
        max_tokens: int | None,
        timeout: float | None,
    ) -> AuxResult:
        request = ModelRequest(
            messages=tuple(messages),
            max_tokens=max_tokens if max_tokens is not None else route.max_tokens,
        )
        limit = timeout if timeout is not None else route.timeout
        failures: list[tuple[Endpoint, errors.ProviderError]] = []
        for index, ep in enumerate(route.endpoints):
            try:
                response = await self._ask(route, index, request, limit)
            except errors.ProviderError as e:
                failures.append((ep, e))
                if not e.fallback_ok:
                    break
                continue
            return AuxResult(
                text=response.message.content or "",
                usage=response.usage,
                route=route,
                endpoint=ep,
                attempts=tuple(f"{where(f_ep)}: {err}" for f_ep, err in failures),
            )
        raise _final_error(route, failures)

    async def _ask(
        self, route: AuxRoute, index: int, request: ModelRequest, limit: float
    ) -> ModelResponse:
        """One endpoint, with the configured retries, under one wall-clock deadline."""
        ep = route.endpoints[index]
        if ep.key_required and not ep.api_key:
            raise errors.MissingCredentials(
                f"no API key for provider '{ep.provider}': set {ep.key_source} in the "
                f"environment or in {self.settings.paths.env_file}, or give "
                f"{route.key_config_path(index)} in config.yaml",
                provider=ep.provider,
                model=ep.model,
            )
        chain = ResilientProvider([self._provider(ep)], self.settings.config.retry)
        notices: list[str] = []
        response: ModelResponse | None = None
        deadline = asyncio.timeout(limit)
        try:
            async with deadline, aclosing(chain.stream(request)) as items:
                async for item in items:
                    if isinstance(item, ModelResponse):
                        response = item
                    elif isinstance(item, Notice):
                        notices.append(item.message)
        except TimeoutError:
            if not deadline.expired():
                raise
            # Cancellation closed the HTTP stream; the client is healthy, so it stays pooled.
            detail = f" (last: {notices[-1]})" if notices else ""
            raise AuxTimeout(
                f"no complete answer within {limit:g}s{detail}",
                provider=ep.provider,
                model=ep.model,
            ) from None
        if response is None:  # a provider always ends with a response; guard the contract
            raise AuxEmptyAnswer("the stream ended without a response", provider=ep.provider)
        if not (response.message.content or "").strip():
            finish = response.finish_reason or "unknown"
            raise AuxEmptyAnswer(
                f"empty answer (finish_reason {finish})", provider=ep.provider, model=ep.model
            )
        return response

    def _provider(self, ep: Endpoint) -> OpenAICompatProvider:
        provider = self._providers.get(ep)
        if provider is None:
            main = self.settings.config.model
            # The main model's connection settings make the pool key identical to the
            # main provider's for the same server: one client, not one per purpose.
            provider = OpenAICompatProvider(
                ep,
                self.pool,
                stream=main.stream,
                connect_timeout=main.connect_timeout,
                read_timeout=main.timeout,
                env_file=str(self.settings.paths.env_file),
            )
            self._providers[ep] = provider
        return provider


def _final_error(
    route: AuxRoute, failures: list[tuple[Endpoint, errors.ProviderError]]
) -> errors.ProviderError:
    """One error naming the task, every endpoint tried and why each failed."""
    head = f"auxiliary task '{route.task}' (endpoint from {route.source})"
    if len(failures) == 1:
        ep, err = failures[0]
        # Keep the class (MissingCredentials, ContextOverflowError…) for callers that
        # branch on it; only the message gains the context.
        err.args = (f"{head} failed at {where(ep)}: {err}",)
        return err
    lines = "; ".join(f"{where(ep)}: {err}" for ep, err in failures)
    skipped = len(route.endpoints) - len(failures)
    tail = f" ({skipped} fallback(s) not tried: the last error rules them out)" if skipped else ""
    return AuxUnavailable(
        f"{head} failed at every endpoint — {lines}{tail}", task=route.task, failures=failures
    )
