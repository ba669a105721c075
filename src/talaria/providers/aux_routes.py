"""Where each side task goes: deterministic resolution of ``auxiliary.<task>``.

The reference agent this replaces sometimes sent titles or summaries to a
different endpoint than the user configured, because it merged fields from
several config entries (the task's model with the default's base URL, the
main model's key with another provider…).  The rule here has no merging:

1. The first of ``auxiliary.<task>`` and ``auxiliary.default`` that names a
   ``provider``, ``model`` or ``base_url`` decides the endpoint *as a whole*.
   What it leaves out comes from the main model only where that cannot change
   the server: a missing ``provider`` means the main model's provider, and
   then (only then) its ``base_url`` and ``api_key`` too; a missing ``model``
   means the main model's name.  A named provider without a ``base_url``
   takes its preset URL, never the main model's custom one.
2. If neither entry names an endpoint, the main model serves (with its own
   ``fallback_providers``: it is the main model's chain, shown by ``doctor``).
3. ``timeout`` and ``max_tokens`` are per-request limits, not part of the
   endpoint: task entry, else default entry, else 60 s / the server's default.
4. ``fallback`` comes from the entry that decided the endpoint, so a side task
   never silently lands on the main model after its own endpoint fails.

Fields that this rule ignores (an ``api_key`` or ``fallback`` in an entry that
does not decide the endpoint) are reported in :attr:`AuxRoute.notes`, which
``talaria doctor`` prints, instead of being dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from talaria.config_schema import AuxTask, FallbackProvider
from talaria.errors import ConfigError
from talaria.providers.factory import fallback_endpoints, primary_endpoint
from talaria.providers.presets import Endpoint, resolve_endpoint, resolve_fallbacks

if TYPE_CHECKING:
    from talaria.config import Settings

TASKS: tuple[str, ...] = ("compression", "title", "web_extract", "vision", "session_search")
"""Every side task the router knows; each has an ``auxiliary.<task>`` config entry."""

DEFAULT_TIMEOUT = 60.0
"""Seconds a side task may take per endpoint when neither entry sets ``timeout``."""


@dataclass(frozen=True, slots=True)
class AuxRoute:
    """The resolved plan for one side task: where it goes, with which limits."""

    task: str
    endpoint: Endpoint
    source: str
    """Which entry decided the endpoint: ``auxiliary.<task>``, ``auxiliary.default``
    or ``model`` (the main model)."""
    timeout: float
    """Wall-clock seconds per endpoint tried (retries included)."""
    max_tokens: int | None
    fallbacks: tuple[Endpoint, ...] = ()
    notes: tuple[str, ...] = ()
    """Configured fields this route ignores, and why (shown by ``doctor``)."""

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The primary endpoint, then the fallbacks, in the order they are tried."""
        return (self.endpoint, *self.fallbacks)

    def key_config_path(self, index: int) -> str:
        """The config key that would hold an explicit key for ``endpoints[index]``."""
        if index == 0:
            return f"{self.source}.api_key"
        if self.source == "model":
            return f"fallback_providers[{index - 1}].api_key"
        return f"{self.source}.fallback[{index - 1}].api_key"

    def explain(self) -> str:
        """One line saying exactly where this task goes and why; never contains a key."""
        decided = {
            "model": "no auxiliary entry names an endpoint, so the main model serves",
            "auxiliary.default": "decided by auxiliary.default",
        }.get(self.source, f"decided by {self.source}")
        text = f"{self.task} → {describe(self.endpoint)} ({decided}); timeout {self.timeout:g}s"
        if self.max_tokens is not None:
            text += f", max_tokens {self.max_tokens}"
        if self.fallbacks:
            text += "; fallbacks: " + ", ".join(describe(ep) for ep in self.fallbacks)
        return text

    def __repr__(self) -> str:  # the dataclass repr would print the endpoint's API key
        return f"AuxRoute({self.explain()!r})"


def where(ep: Endpoint) -> str:
    """``provider/model at base_url``: enough to find the endpoint, no secret."""
    return f"{ep.provider}/{ep.model} at {ep.base_url}"


def describe(ep: Endpoint) -> str:
    """:func:`where` plus the key's state (present, missing — set VAR, not needed)."""
    return f"{where(ep)} [key {key_state(ep)}]"


def key_state(ep: Endpoint) -> str:
    """``present (SOURCE)``, ``missing — set VAR`` or ``not needed (…)``."""
    if ep.api_key:
        return f"present ({ep.key_source})"
    if ep.key_required:
        return f"missing — set {ep.key_source}"
    return f"not needed ({ep.key_source} unset; local or custom server)"


def resolve_route(settings: Settings, task: str) -> AuxRoute:
    """Resolve ``task`` against ``settings``.  Pure and deterministic.

    Raises ``ValueError`` for an unknown task and :class:`ConfigError` (naming the
    key) for an entry that cannot be resolved.  A missing API key is *not* an error
    here: ``doctor`` must be able to show it, and the call reports it.
    """
    if task not in TASKS:
        raise ValueError(f"unknown auxiliary task {task!r}; expected one of: {', '.join(TASKS)}")
    aux = settings.config.auxiliary
    task_key = f"auxiliary.{task}"
    entries: list[tuple[str, AuxTask | None]] = [
        (task_key, getattr(aux, task)),
        ("auxiliary.default", aux.default),
    ]
    decider = next(((k, e) for k, e in entries if e is not None and _names_endpoint(e)), None)
    notes: list[str] = []
    if decider is None:
        source = "model"
        endpoint = primary_endpoint(settings)
        fallbacks = tuple(fallback_endpoints(settings))
    else:
        source, entry = decider
        endpoint = _entry_endpoint(settings, source, entry)
        fallbacks = _fallbacks(settings, source, entry.fallback)
    for key, e in entries:
        if e is None or key == source:
            continue
        if key == "auxiliary.default" and source == task_key:
            continue  # the task entry decided; the default entry is simply not consulted
        why = f"{key} names no provider, model or base_url, so {_who(source)} decides the endpoint"
        if e.api_key:
            notes.append(f"{key}.api_key is ignored: {why}")
        if e.fallback:
            notes.append(f"{key}.fallback is ignored: {why}")
    timeout = _first(entries, "timeout")
    max_tokens = _first(entries, "max_tokens")
    if timeout is not None and timeout <= 0:
        raise ConfigError(
            "must be positive", key=_where(entries, "timeout"), expected="seconds > 0"
        )
    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(
            "must be at least 1", key=_where(entries, "max_tokens"), expected="integer ≥ 1"
        )
    return AuxRoute(
        task=task,
        endpoint=endpoint,
        source=source,
        timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        fallbacks=fallbacks,
        notes=tuple(notes),
    )


def resolve_all(settings: Settings) -> dict[str, AuxRoute]:
    """Every task's route, in :data:`TASKS` order (raises on the first bad entry)."""
    return {task: resolve_route(settings, task) for task in TASKS}


def _names_endpoint(entry: AuxTask) -> bool:
    return bool(entry.provider or entry.model or entry.base_url)


def _who(source: str) -> str:
    return "the main model" if source == "model" else source


def _entry_endpoint(settings: Settings, source: str, entry: AuxTask) -> Endpoint:
    main = settings.config.model
    same_server = entry.provider is None and not entry.base_url
    # The main model's base URL belongs to the main model's provider: a task that
    # names another provider gets that provider's preset URL, never this one.
    base_url = entry.base_url or (main.base_url if entry.provider is None else None)
    inherited_key = main.api_key if same_server and not entry.api_key else None
    endpoint = resolve_endpoint(
        provider=entry.provider or main.provider,
        model=entry.model or main.name,
        base_url=base_url,
        api_key=entry.api_key or inherited_key,
        env=settings.env,
        config_key=source,
    )
    if inherited_key:
        # Same server as the main model, so its explicit key applies; say where it is.
        endpoint = replace(endpoint, key_source="model.api_key")
    return endpoint


def _fallbacks(
    settings: Settings, source: str, fallback: list[FallbackProvider]
) -> tuple[Endpoint, ...]:
    return tuple(resolve_fallbacks(fallback, settings.env, config_key=f"{source}.fallback"))


def _first(entries: list[tuple[str, AuxTask | None]], name: str) -> float | int | None:
    for _, entry in entries:
        value: float | int | None = getattr(entry, name) if entry is not None else None
        if value is not None:
            return value
    return None


def _where(entries: list[tuple[str, AuxTask | None]], name: str) -> str:
    for key, entry in entries:
        if entry is not None and getattr(entry, name) is not None:
            return f"{key}.{name}"
    return name
