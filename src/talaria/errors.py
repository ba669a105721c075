"""The one exception tree of Talaria.

Foreign errors (httpx, msgspec, ruamel, OS) are translated into these at the
boundary where they occur, so callers only ever handle Talaria errors::

    TalariaError
    ├── ConfigError                 bad config: names file, key and expected type
    ├── ProviderError               a model call failed
    │   ├── AuthError               401/403, or no key at all (MissingCredentials)
    │   │   └── MissingCredentials
    │   ├── RateLimitError          429 (``retry_after`` when the server said)
    │   ├── OverloadedError         5xx / 529: the server is struggling
    │   ├── ContextOverflowError    the prompt does not fit the model's window
    │   ├── BadRequestError         4xx the server will not accept as sent
    │   ├── NetworkError            connect/read failures, timeouts, broken streams
    │   └── ProviderUnavailable     retries and every fallback exhausted
    └── ToolError                   raised by tools; becomes an error *result*

Every message is written for the person who has to fix the problem.
"""

from __future__ import annotations


class TalariaError(Exception):
    """Base of every error Talaria raises on purpose."""


class ConfigError(TalariaError):
    """Invalid configuration.  Carries where it came from so the CLI can say it plainly."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.detail = message
        parts = []
        if file:
            parts.append(file)
        if key:
            parts.append(f"key '{key}'")
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(text)


class ProviderError(TalariaError):
    """A model call failed.  ``retryable`` tells the retry layer whether to try again."""

    retryable: bool = False
    fallback_ok: bool = True
    kind: str = "provider"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        body: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.body = body
        super().__init__(message)


class AuthError(ProviderError):
    kind = "auth"


class MissingCredentials(AuthError):
    kind = "missing_credentials"


class RateLimitError(ProviderError):
    kind = "rate_limit"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class QuotaExceededError(RateLimitError):
    """A 429 that will not clear by waiting (billing, exhausted credits)."""

    kind = "quota"
    retryable = False


class OverloadedError(ProviderError):
    kind = "overloaded"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ContextOverflowError(ProviderError):
    """The prompt exceeds the model's window; another provider would not help."""

    kind = "context_overflow"
    fallback_ok = False


class BadRequestError(ProviderError):
    kind = "bad_request"


class NetworkError(ProviderError):
    kind = "network"
    retryable = True


class ProviderUnavailable(ProviderError):
    """Every attempt failed: retries on the primary and every fallback provider."""

    kind = "unavailable"

    def __init__(self, message: str, *, attempts: list[ProviderError]) -> None:
        super().__init__(message)
        self.attempts = attempts


class ToolError(TalariaError):
    """Raised by a tool to report a failure the model should read and react to."""
