"""Provider presets and endpoint resolution.

A preset fills the base URL and names the environment variable holding the API
key, so ``model.provider: openrouter`` plus ``OPENROUTER_API_KEY`` is a complete
configuration.  Resolution records *where* the key came from, so that a missing
or rejected key produces a message naming exactly what to set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from talaria.config_schema import FallbackProvider
from talaria.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Preset:
    base_url: str | None
    key_env: str
    key_required: bool


PRESETS: dict[str, Preset] = {
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True),
    "openai": Preset("https://api.openai.com/v1", "OPENAI_API_KEY", True),
    "nous": Preset("https://inference-api.nousresearch.com/v1", "NOUS_API_KEY", True),
    "ollama": Preset("http://localhost:11434/v1", "OLLAMA_API_KEY", False),
    "custom": Preset(None, "TALARIA_API_KEY", False),
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A fully resolved place to send chat requests."""

    provider: str
    model: str
    base_url: str
    api_key: str | None = field(repr=False)
    key_source: str
    """Human description of where the key comes from / should be set."""
    key_required: bool

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}" if self.provider != "custom" else self.model


def resolve_endpoint(
    *,
    provider: str,
    model: str,
    base_url: str | None,
    api_key: str | None,
    env: Mapping[str, str],
    config_key: str = "model",
) -> Endpoint:
    """Fill base URL and key from the preset; explicit values win."""
    preset = PRESETS.get(provider)
    if preset is None:
        raise ConfigError(
            f"unknown provider '{provider}'",
            key=f"{config_key}.provider",
            expected="one of " + ", ".join(PRESETS),
        )
    url = base_url or preset.base_url
    if not url:
        raise ConfigError(
            "provider 'custom' needs a base URL (e.g. http://localhost:8000/v1)",
            key=f"{config_key}.base_url",
            expected="URL",
        )
    key: str | None
    if api_key:
        key, source = api_key, f"{config_key}.api_key"
    else:
        key = env.get(preset.key_env) or None
        source = preset.key_env
    return Endpoint(
        provider=provider,
        model=model,
        base_url=url.rstrip("/"),
        api_key=key,
        key_source=source,
        key_required=preset.key_required and not base_url_is_local(url),
    )


def base_url_is_local(url: str) -> bool:
    """Local servers (vLLM, llama.cpp, the test double) usually need no key."""
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def missing_key_message(ep: Endpoint, env_file: str = "~/.talaria/.env") -> str:
    """Says exactly which variable to set, and where."""
    if ep.key_source.endswith(".api_key"):
        where = f"set {ep.key_source}"
    else:
        where = (
            f"set {ep.key_source} in the environment or in {env_file} "
            "(or run: talaria config set model.api_key YOUR_KEY)"
        )
    return f"no API key for provider '{ep.provider}': {where}"


def resolve_fallbacks(
    entries: Sequence[FallbackProvider], env: Mapping[str, str], *, config_key: str
) -> list[Endpoint]:
    """Endpoints of a fallback list; errors name ``config_key[i]``."""
    return [
        resolve_endpoint(
            provider=fb.provider,
            model=fb.model,
            base_url=fb.base_url,
            api_key=fb.api_key,
            env=env,
            config_key=f"{config_key}[{i}]",
        )
        for i, fb in enumerate(entries)
    ]
