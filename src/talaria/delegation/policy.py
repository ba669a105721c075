"""What a child may do: its toolsets, its tools, its depth and its model.

A child's toolsets are the requested ones (or ``delegation.default_toolsets``)
intersected with its parent's, minus what a subagent must never have: tools
that need a human (``clarify``), memory writes, and ``delegate_task`` itself once
the tree is at ``delegation.max_depth``.  Restriction is by construction — a
child's registry simply does not contain the tool — not by asking the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from talaria.config_schema import DelegationConfig, DelegationModel
from talaria.tools.registry import ToolRegistry, load_toolsets

DELEGATION_TOOLSET = "delegation"
DEPTH_ENV = "TALARIA_DELEGATION_DEPTH"
"""Set in a subagent's tool environment: its depth in the delegation tree."""
BLOCKED_TOOLSETS = frozenset({"clarify"})


def child_toolsets(
    requested: Sequence[str] | None, parent: Sequence[str], config: DelegationConfig
) -> list[str]:
    """requested (or the default) ∩ parent's − blocked, in the requested order."""
    wanted = list(requested) if requested else list(config.default_toolsets)
    allowed = set(parent) - BLOCKED_TOOLSETS
    return [t for t in dict.fromkeys(wanted) if t in allowed]


def inherited_depth(env: Mapping[str, str]) -> int:
    """The delegation depth a process inherits from the subagent whose shell started it."""
    raw = env.get(DEPTH_ENV, "")
    return int(raw) if raw.isdigit() else 0


def can_delegate(depth: int, config: DelegationConfig) -> bool:
    """Whether an agent at ``depth`` (root = 0) may still call ``delegate_task``."""
    return depth < config.max_depth


def child_registry(
    toolsets: Sequence[str], *, depth: int, config: DelegationConfig
) -> ToolRegistry:
    """The tools of a child at ``depth``: blocked tools removed, delegation only if allowed."""
    names = [t for t in toolsets if t != DELEGATION_TOOLSET or can_delegate(depth, config)]
    registry = load_toolsets(names)
    kept = [t for t in registry if not t.needs_human and not t.writes_memory]
    return configure_delegation(ToolRegistry(kept), config, depth=depth)


def configure_delegation(
    registry: ToolRegistry, config: DelegationConfig, *, depth: int
) -> ToolRegistry:
    """Replace ``delegate_task`` by a copy whose description states this agent's limits."""
    base = registry.get("delegate_task")
    if base is None:
        return registry
    from talaria.delegation.tool import configure

    tuned = configure(base, config, depth=depth, toolsets=registry.toolsets)
    return ToolRegistry(tuned if t.name == "delegate_task" else t for t in registry)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    allowed: DelegationModel | None
    error: str | None


def choose_model(requested: str | None, config: DelegationConfig) -> ModelChoice:
    """A per-task model must be on the operator's allow-list (``delegation.models``)."""
    if not requested:
        return ModelChoice(None, None)
    for m in config.models:
        if m.name == requested:
            return ModelChoice(m, None)
    names = ", ".join(m.name for m in config.models) or "none are configured"
    return ModelChoice(
        None,
        f"model {requested!r} is not allowed for subagents (delegation.models: {names})",
    )
