"""``delegate_task``: the model-facing entry to delegation.

The description the model reads is rebuilt from configuration for each agent
(:func:`configure`): it states the real limits (concurrency, tasks per call,
depth) and the toolsets a child can actually receive, so the model plans with
true numbers instead of guessing.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import msgspec

from talaria.config_schema import DelegationConfig
from talaria.delegation.policy import BLOCKED_TOOLSETS, DELEGATION_TOOLSET, can_delegate
from talaria.errors import ToolError
from talaria.tools.base import Tool, ToolContext, tool


class TaskItem(msgspec.Struct, forbid_unknown_fields=True):
    goal: Annotated[str, msgspec.Meta(description="What this subagent must achieve.")]
    context: Annotated[
        str | None,
        msgspec.Meta(description="Everything it needs to know; it sees nothing else."),
    ] = None
    toolsets: Annotated[
        list[str] | None, msgspec.Meta(description="Toolsets for it, limited to yours.")
    ] = None
    model: Annotated[
        str | None, msgspec.Meta(description="A model from the allowed list, if any.")
    ] = None


@tool(toolset=DELEGATION_TOOLSET, caps_own_output=True)
async def delegate_task(
    ctx: ToolContext,
    goal: str | None = None,
    context: str | None = None,
    toolsets: list[str] | None = None,
    tasks: list[TaskItem] | None = None,
) -> str:
    """Hand independent subtasks to subagents that work at the same time.

    Each subagent starts fresh (it sees only its goal and context), works with its
    own tools, and reports back; you get one JSON result per task, in order.

    Args:
        goal: One task for one subagent (use either goal or tasks).
        context: Everything the subagent needs to know: it sees nothing of this conversation.
        toolsets: Toolsets for the subagent (default: a standard set), limited to yours.
        tasks: Several tasks, each {goal, context?, toolsets?, model?}, run concurrently.
    """
    from talaria.delegation.runner import TaskSpec, run_tasks

    d = ctx.delegation
    if d is None:
        raise ToolError("delegation is not available in this run")
    cfg = d.settings.config.delegation
    if (goal is None) == (tasks is None):
        raise ToolError("give exactly one of: goal (one task) or tasks (a list of tasks)")
    if tasks is not None:
        specs = [TaskSpec(t.goal, t.context, t.toolsets, t.model) for t in tasks]
    else:
        assert goal is not None
        specs = [TaskSpec(goal, context, toolsets, None)]
    if not specs:
        raise ToolError("tasks is empty: give at least one task")
    if len(specs) > cfg.max_tasks_per_call:
        raise ToolError(
            f"{len(specs)} tasks is more than delegation.max_tasks_per_call "
            f"({cfg.max_tasks_per_call}); split them over several calls"
        )
    for i, spec in enumerate(specs):
        if not spec.goal.strip():
            raise ToolError(f"task {i} has an empty goal")
    result = await run_tasks(ctx, specs)
    return fit_result(result, ctx.settings.config.agent.max_tool_output_chars)


def fit_result(result: dict[str, Any], limit: int) -> str:
    """Encode the result within ``limit`` characters *as valid JSON*: when it is too long,
    summaries are shortened (each marked ``summary_truncated``), never the JSON cut."""
    text = msgspec.json.encode(result).decode()
    entries = result["results"]
    per_entry = max(200, limit // max(1, len(entries)))
    while len(text) > limit and per_entry > 40:
        for e in entries:
            summary = e.get("summary")
            if isinstance(summary, str) and len(summary) > per_entry:
                e["summary"] = summary[: per_entry - 1] + "…"
                e["summary_truncated"] = True
            err = e.get("error")
            if isinstance(err, str) and len(err) > per_entry:
                e["error"] = err[: per_entry - 1] + "…"
        text = msgspec.json.encode(result).decode()
        per_entry //= 2
    return text


def configure(base: Tool, config: DelegationConfig, *, depth: int, toolsets: list[str]) -> Tool:
    """``delegate_task`` with a description stating this agent's real limits."""
    child_sets = [t for t in toolsets if t not in BLOCKED_TOOLSETS]
    if not can_delegate(depth + 1, config):
        child_sets = [t for t in child_sets if t != DELEGATION_TOOLSET]
        nesting = "Subagents cannot delegate further."
    else:
        nesting = f"Subagents may delegate further, down to depth {config.max_depth}."
    models = ", ".join(m.name for m in config.models)
    model_line = (
        f"Per-task `model` may be one of: {models}."
        if models
        else "Per-task `model` is not available (no models are allowed for subagents)."
    )
    description = (
        "Hand independent subtasks to subagents that work at the same time, each in a fresh "
        "context with its own tools, and get back one structured result per task.\n\n"
        "Use it to parallelise work that splits cleanly (research several questions, change "
        "several independent files, check several hypotheses). Each subagent sees ONLY its "
        "goal and context, never this conversation: put every fact it needs in `context`. "
        "Do not delegate trivial steps you can do directly.\n\n"
        f"Limits: up to {config.max_concurrent_children} subagents run at once; extra tasks "
        f"wait their turn (at most {config.max_tasks_per_call} tasks per call). Each subagent "
        f"has {config.max_child_iterations} model calls and {config.child_timeout_s:g}s. "
        f"{nesting}\n"
        f"Toolsets a subagent can get: {', '.join(child_sets) or 'none'} "
        f"(default: {', '.join(t for t in config.default_toolsets if t in child_sets)}). "
        f"{model_line}\n\n"
        "Returns JSON: {results: [{task_index, status, summary, session_id, model, api_calls, "
        "tool_calls, usage, duration_s, error}], total_duration_s, usage}, in task order. "
        "status is completed, failed, interrupted, timed_out or max_iterations; only "
        "completed results have a summary."
    )
    return dataclasses.replace(base, description=description)


TOOLS: list[Tool] = [delegate_task]
