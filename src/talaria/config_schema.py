"""The typed shape of ``config.yaml``: every key, its type and its default.

msgspec structs with ``forbid_unknown_fields`` so a typo is an error that names
the key, not a silently ignored setting.  Loading, precedence and editing live
in :mod:`talaria.config`; this module only declares.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ProviderName = Literal["openrouter", "openai", "nous", "ollama", "custom"]

DEFAULT_TOOLSETS = ("terminal", "file", "web", "todo", "session_search")


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class Pricing(_Section, frozen=True):
    """USD per million tokens, for models the built-in price table does not know."""

    input_per_mtok: float
    output_per_mtok: float


class ModelConfig(_Section, frozen=True):
    name: str = "anthropic/claude-sonnet-4"
    provider: ProviderName = "openrouter"
    base_url: str | None = None
    api_key: str | None = None
    stream: bool = True
    timeout: float = 300.0
    """Seconds to wait for the next byte of a response (read timeout)."""
    connect_timeout: float = 10.0
    max_tokens: int | None = None
    temperature: float | None = None
    context_length: int | None = None
    extra_body: dict[str, Any] = msgspec.field(default_factory=dict)
    pricing: Pricing | None = None


class FallbackProvider(_Section, frozen=True):
    provider: ProviderName
    model: str
    base_url: str | None = None
    api_key: str | None = None


class AuxTask(_Section, frozen=True):
    """Where one side task goes.  The first entry (task, then ``default``) that names a
    ``provider``, ``model`` or ``base_url`` decides the endpoint as a whole."""

    provider: ProviderName | None = None
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    timeout: float | None = None
    max_tokens: int | None = None
    fallback: list[FallbackProvider] = msgspec.field(default_factory=list)


class AuxiliaryConfig(_Section, frozen=True):
    default: AuxTask | None = None
    compression: AuxTask | None = None
    title: AuxTask | None = None
    web_extract: AuxTask | None = None
    vision: AuxTask | None = None
    session_search: AuxTask | None = None


class CompressionConfig(_Section, frozen=True):
    enabled: bool = True
    threshold: float = 0.75
    """Compress when the prompt would exceed this share of the model's context window."""
    protect_last_n: int = 12


class AgentConfig(_Section, frozen=True):
    max_iterations: int = 90
    auto_title: bool = True
    """Interactive sessions are named by the ``title`` side task after the first exchange."""
    system_prompt: str | None = None
    max_tool_output_chars: int = 50_000
    cwd: str | None = None


class TerminalConfig(_Section, frozen=True):
    timeout: float = 180.0
    max_output_chars: int = 30_000
    shell: str = "/bin/bash"
    env_passthrough: list[str] = msgspec.field(default_factory=list)
    """Secret-looking variables the user explicitly allows into commands."""


class WebConfig(_Section, frozen=True):
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_output_chars: int = 40_000


class RetryConfig(_Section, frozen=True):
    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    budget: float = 120.0
    """Total seconds one model call may spend retrying before fallback providers are tried."""


class DelegationModel(_Section, frozen=True):
    """A model the operator allows subagents to request by ``name``."""

    name: str
    provider: ProviderName = "openrouter"
    base_url: str | None = None


class DelegationConfig(_Section, frozen=True):
    max_concurrent_children: int = 8
    """Children running at once in one process tree; more tasks wait their turn."""
    max_tasks_per_call: int = 64
    max_depth: int = 1
    """1: children cannot delegate; 2: grandchildren allowed; and so on."""
    child_timeout_s: float = 900.0
    child_idle_timeout_s: float = 300.0
    """A child with no model or tool progress for this long is stopped as timed_out."""
    max_child_iterations: int = 50
    default_toolsets: list[str] = msgspec.field(
        default_factory=lambda: ["terminal", "file", "web", "todo"]
    )
    """Toolsets a child gets when the task does not name any (still ∩ the parent's)."""
    models: list[DelegationModel] = msgspec.field(default_factory=list)


class StoreConfig(_Section, frozen=True):
    synchronous: Literal["normal", "full"] = "normal"
    """SQLite ``synchronous``: ``normal`` survives process crashes, ``full`` also power loss."""
    busy_budget: float = 30.0
    """Seconds to keep retrying while another process holds the write lock."""


class Config(_Section, frozen=True):
    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    agent: AgentConfig = msgspec.field(default_factory=AgentConfig)
    toolsets: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_TOOLSETS))
    terminal: TerminalConfig = msgspec.field(default_factory=TerminalConfig)
    web: WebConfig = msgspec.field(default_factory=WebConfig)
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    fallback_providers: list[FallbackProvider] = msgspec.field(default_factory=list)
    store: StoreConfig = msgspec.field(default_factory=StoreConfig)
    delegation: DelegationConfig = msgspec.field(default_factory=DelegationConfig)
    auxiliary: AuxiliaryConfig = msgspec.field(default_factory=AuxiliaryConfig)
    compression: CompressionConfig = msgspec.field(default_factory=CompressionConfig)
    quick_commands: dict[str, Any] = msgspec.field(default_factory=dict)
    """Validated entry by entry at start-up (``talaria.commands.quick``), so one bad
    entry is reported with its key path and the others still work."""
