"""Building the provider chain a run uses, from Settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from talaria.providers.base import Provider
from talaria.providers.openai_compat import OpenAICompatProvider
from talaria.providers.pool import ClientPool
from talaria.providers.presets import Endpoint, resolve_endpoint, resolve_fallbacks
from talaria.providers.resilient import ResilientProvider

if TYPE_CHECKING:
    from talaria.config import Settings


def primary_endpoint(settings: Settings, model: str | None = None) -> Endpoint:
    m = settings.config.model
    return resolve_endpoint(
        provider=m.provider,
        model=model or m.name,
        base_url=m.base_url,
        api_key=m.api_key,
        env=settings.env,
    )


def fallback_endpoints(settings: Settings) -> list[Endpoint]:
    return resolve_fallbacks(
        settings.config.fallback_providers, settings.env, config_key="fallback_providers"
    )


def build_provider(settings: Settings, pool: ClientPool, *, model: str | None = None) -> Provider:
    """Primary endpoint plus ``fallback_providers``, wrapped in retries."""
    m = settings.config.model
    pricing = (m.pricing.input_per_mtok, m.pricing.output_per_mtok) if m.pricing else None

    def make(ep: Endpoint, primary: bool) -> OpenAICompatProvider:
        return OpenAICompatProvider(
            ep,
            pool,
            stream=m.stream,
            extra_body=m.extra_body if primary else None,
            max_tokens=m.max_tokens,
            temperature=m.temperature,
            pricing=pricing if primary else None,
            connect_timeout=m.connect_timeout,
            read_timeout=m.timeout,
            env_file=str(settings.paths.env_file),
        )

    chain: list[Provider] = [make(primary_endpoint(settings, model), True)]
    chain.extend(make(ep, False) for ep in fallback_endpoints(settings))
    return ResilientProvider(chain, settings.config.retry)


def build_provider_for(
    settings: Settings,
    pool: ClientPool,
    *,
    provider: str,
    model: str,
    base_url: str | None = None,
) -> Provider:
    """A provider for an explicitly chosen endpoint (e.g. a subagent's allowed model),
    with the configured retries but no fallbacks: the operator chose this model."""
    m = settings.config.model
    ep = resolve_endpoint(
        provider=provider, model=model, base_url=base_url, api_key=None, env=settings.env
    )
    chosen = OpenAICompatProvider(
        ep,
        pool,
        stream=m.stream,
        max_tokens=m.max_tokens,
        temperature=m.temperature,
        connect_timeout=m.connect_timeout,
        read_timeout=m.timeout,
        env_file=str(settings.paths.env_file),
    )
    return ResilientProvider([chosen], settings.config.retry)
