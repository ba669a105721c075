"""The OpenAI-compatible provider: chat completions over httpx (+ httpx-sse).

Transport only: request bodies, chunk assembly and error classification live in
:mod:`talaria.providers.wire`.  Clients come from the shared :class:`ClientPool`
as leases; a transport error evicts the client so the retry gets a fresh one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import replace
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from talaria import concurrency, errors
from talaria.providers import wire
from talaria.providers.base import ModelRequest, ModelResponse, StreamItem
from talaria.providers.pool import ClientKey, ClientPool
from talaria.providers.presets import Endpoint, missing_key_message
from talaria.providers.pricing import with_cost
from talaria.secrets import fingerprint

_STREAM_REJECTED = re.compile(r"\bstream(_options)?\b", re.IGNORECASE)
_ATTRIBUTION = {"HTTP-Referer": "https://github.com/talaria-agent/talaria", "X-Title": "Talaria"}


class OpenAICompatProvider:
    """Talks to one endpoint (base URL + key + model)."""

    def __init__(
        self,
        endpoint: Endpoint,
        pool: ClientPool,
        *,
        stream: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        pricing: tuple[float, float] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        env_file: str = "~/.talaria/.env",
    ) -> None:
        self.endpoint = endpoint
        self._env_file = env_file
        self._pool = pool
        self._stream = stream
        self._extra_body = dict(extra_body or {})
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._pricing = pricing
        self._key = ClientKey(
            base_url=endpoint.base_url,
            key_fingerprint=fingerprint(endpoint.api_key),
            kind="async",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if endpoint.api_key:
            headers["Authorization"] = f"Bearer {endpoint.api_key}"
        if endpoint.provider == "openrouter":
            headers.update(_ATTRIBUTION)
        self._headers = headers
        self._url = f"{endpoint.base_url}/chat/completions"

    @property
    def name(self) -> str:
        return self.endpoint.provider

    @property
    def model(self) -> str:
        return self.endpoint.model

    async def aclose(self) -> None:
        """Nothing to do: clients belong to the pool, which the runtime closes."""

    async def warm(self) -> None:
        """Build the pooled client in a worker thread, overlapping other start-up work
        (building a client imports the transport stack and costs ~40 ms)."""

        def build() -> None:
            self._pool.lease(self._key).release()

        await concurrency.to_thread(build)

    def _check_key(self) -> None:
        if self.endpoint.key_required and not self.endpoint.api_key:
            raise errors.MissingCredentials(
                missing_key_message(self.endpoint, self._env_file),
                provider=self.endpoint.provider,
                model=self.endpoint.model,
            )

    def _body(self, request: ModelRequest, stream: bool) -> bytes:
        if request.max_tokens is None and self._max_tokens is not None:
            request = replace(request, max_tokens=self._max_tokens)
        if request.temperature is None and self._temperature is not None:
            request = replace(request, temperature=self._temperature)
        body = wire.build_body(
            request,
            model=self.endpoint.model,
            stream=stream,
            extra_body=self._extra_body,
            vendor=self.endpoint.provider,
        )
        return wire.encode_body(body)

    def _error(self, status: int, headers: Mapping[str, str], body: bytes) -> errors.ProviderError:
        err = wire.error_from_response(
            status, headers, body, provider=self.endpoint.provider, model=self.endpoint.model
        )
        if isinstance(err, errors.AuthError):
            err.args = (f"{err} — the key was rejected; check {self.endpoint.key_source}",)
        return err

    def _network_error(self, exc: httpx.HTTPError) -> errors.NetworkError:
        kind = type(exc).__name__
        detail = str(exc) or kind
        ep = self.endpoint
        return errors.NetworkError(
            f"cannot talk to {ep.provider} at {ep.base_url}: {kind}: {detail}",
            provider=self.endpoint.provider,
            model=self.endpoint.model,
        )

    def _decode(self, body: bytes) -> Any:
        try:
            return wire.decode_json(body)
        except ValueError:
            ep = self.endpoint
            raise errors.ProviderError(
                f"{ep.provider} returned a body that is not JSON: {body[:200]!r}",
                provider=ep.provider,
                model=ep.model,
            ) from None

    def _finish(self, response: ModelResponse) -> ModelResponse:
        usage = with_cost(response.usage, response.model or self.model, self._pricing)
        if usage is response.usage:
            return response
        return ModelResponse(
            message=response.message,
            usage=usage,
            finish_reason=response.finish_reason,
            model=response.model,
            provider=response.provider,
            base_url=response.base_url,
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamItem, None]:
        self._check_key()
        lease = self._pool.lease(self._key)
        emitted = False
        try:
            if self._stream:
                async for item in self._stream_once(lease.client, request):
                    emitted = True
                    yield item
            else:
                yield await self._complete_once(lease.client, request)
        except errors.BadRequestError as e:
            # Some servers reject ``stream``/``stream_options``; fall back once, for good.
            if self._stream and not emitted and _STREAM_REJECTED.search(str(e)):
                self._stream = False
                yield await self._complete_once(lease.client, request)
            else:
                raise
        except (httpx.TransportError, SSEError) as e:
            lease.evict()
            raise (
                self._network_error(e)
                if isinstance(e, httpx.HTTPError)
                else errors.NetworkError(
                    f"broken event stream from {self.endpoint.base_url}: {e}",
                    provider=self.endpoint.provider,
                    model=self.endpoint.model,
                )
            ) from e
        finally:
            await lease.arelease()

    async def _stream_once(
        self, client: httpx.AsyncClient, request: ModelRequest
    ) -> AsyncGenerator[StreamItem, None]:
        ep = self.endpoint
        async with client.stream(
            "POST", self._url, content=self._body(request, True), headers=self._headers
        ) as resp:
            if resp.status_code != 200:
                raise self._error(resp.status_code, resp.headers, await resp.aread())
            ctype = resp.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                # The server ignored ``stream``: it answered with one JSON completion.
                data = self._decode(await resp.aread())
                yield self._finish(
                    wire.parse_completion(
                        data, provider=ep.provider, model=ep.model, base_url=ep.base_url
                    )
                )
                return
            asm = wire.StreamAssembler(provider=ep.provider, model=ep.model, base_url=ep.base_url)
            async for sse in EventSource(resp).aiter_sse():
                data = sse.data
                if not data:
                    continue
                if data == "[DONE]":
                    break
                try:
                    chunk = wire.decode_json(data)
                except ValueError:
                    raise errors.NetworkError(
                        f"malformed stream chunk from {ep.base_url}: {data[:200]!r}",
                        provider=ep.provider,
                        model=ep.model,
                    ) from None
                for delta in asm.feed(chunk):
                    yield delta
            if asm.finish_reason is None and not asm.started:
                raise errors.NetworkError(
                    f"{ep.provider} closed the stream before sending anything",
                    provider=ep.provider,
                    model=ep.model,
                )
            yield self._finish(asm.response())

    async def _complete_once(
        self, client: httpx.AsyncClient, request: ModelRequest
    ) -> ModelResponse:
        ep = self.endpoint
        resp = await client.post(
            self._url, content=self._body(request, False), headers=self._headers
        )
        if resp.status_code != 200:
            raise self._error(resp.status_code, resp.headers, resp.content)
        data = self._decode(resp.content)
        return self._finish(
            wire.parse_completion(data, provider=ep.provider, model=ep.model, base_url=ep.base_url)
        )
