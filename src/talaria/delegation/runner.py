"""Scheduling, supervising and recording subagents.

Children are built one after another on the loop (no construction races), then
run as tasks of one ``TaskGroup`` under the tree-wide ``Limiter``; tasks beyond
the limit wait their turn, never rejected.  Each child is wrapped so its failure
is a result, not an exception that would cancel its siblings.  Limits are the
runtime's job, not the child's: a watchdog interrupts a child that exceeds its
wall-clock budget or makes no progress for too long (``timed_out``).  A tree
interrupt is plain cancellation: it reaches every child through the TaskGroup,
and each child records ``interrupted`` before it unwinds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from talaria import concurrency
from talaria.agent.compression import make_compressor
from talaria.agent.loop import LoopConfig
from talaria.agent.recorder import Recorder
from talaria.agent.run import Run, RunSetup
from talaria.config_schema import DelegationConfig
from talaria.delegation.context import DelegationContext, ProgressSink
from talaria.delegation.policy import (
    DELEGATION_TOOLSET,
    DEPTH_ENV,
    child_registry,
    child_toolsets,
    choose_model,
)
from talaria.errors import TalariaError
from talaria.events import ChildFinished, ChildQueued, ChildStarted
from talaria.providers.base import Provider
from talaria.store.base import NewSession
from talaria.tools.base import ToolContext
from talaria.types import Message, RunResult, Usage

CHILD_PROMPT = """\
You are a subagent: another agent delegated one task to you and is waiting for your report.
You start with a fresh context: everything you know about the task is below.

Task: {goal}
{context}
Work independently with your tools until the task is done or you are certain it cannot be.
Do not ask questions: nobody can answer them. Your final message is the only thing the
delegating agent will see, so make it a complete report:
- what you did;
- what you found or produced (concrete results, values, conclusions);
- files you created or changed (paths);
- problems, failures or anything left undone — say so plainly, never claim unfinished work."""


@dataclass(frozen=True, slots=True)
class TaskSpec:
    goal: str
    context: str | None = None
    toolsets: Sequence[str] | None = None
    model: str | None = None


@dataclass
class _Child:
    index: int
    number: int
    task: TaskSpec
    run: Run
    sink: ProgressSink
    delegation: DelegationContext | None


def _entry(
    index: int,
    path: tuple[int, ...],
    *,
    status: str,
    model: str,
    result: RunResult | None = None,
    error: str | None = None,
    duration: float = 0.0,
    goal: str = "",
) -> dict[str, Any]:
    usage = result.usage if result is not None else Usage()
    return {
        "task_index": index,
        "path": ".".join(map(str, path)),
        "goal": goal,
        "status": status,
        "summary": (result.final if result is not None and status == "completed" else None),
        "session_id": result.session_id if result is not None else None,
        "model": model,
        "api_calls": result.api_calls if result is not None else 0,
        "tool_calls": result.tool_calls if result is not None else 0,
        "usage": usage.to_dict(),
        "duration_s": round(duration, 3),
        "error": error if error is not None else (result.error if result is not None else None),
    }


def _build_child(
    d: DelegationContext, parent: ToolContext, index: int, task: TaskSpec, provider: Provider
) -> _Child:
    cfg = d.settings.config.delegation
    depth = d.depth + 1
    number = d.next_number()
    path = (*d.path, number)
    registry = child_registry(
        child_toolsets(task.toolsets, d.toolsets, cfg), depth=depth, config=cfg
    )
    sink = ProgressSink(d.sink, (number,))
    ctx = ToolContext(
        run_id="",
        cwd=parent.cwd,
        settings=d.settings,
        env={**parent.env, DEPTH_ENV: str(depth)},
        redact=parent.redact,
        open_store=parent.open_store,
        aux=parent.aux,
    )
    system = CHILD_PROMPT.format(
        goal=task.goal, context=f"\nContext:\n{task.context}\n" if task.context else ""
    )
    recorder = None
    if d.record:
        runtime, settings = d.runtime, d.settings
        recorder = Recorder(
            lambda: runtime.astore(settings),
            NewSession(
                source="subagent",
                parent_id=d.session_id,
                goal=task.goal,
                model=provider.model,
                provider=provider.name,
                system_prompt=system,
            ),
        )
    ctx.recorder = recorder
    child_delegation = None
    if DELEGATION_TOOLSET in registry.toolsets:
        child_delegation = DelegationContext(
            runtime=d.runtime,
            settings=d.settings,
            depth=depth,
            path=path,
            sink=sink,
            limiter=d.limiter,
            toolsets=tuple(registry.toolsets),
            provider=provider,
            record=d.record,
            recorder=recorder,
        )
        ctx.delegation = child_delegation
    setup = RunSetup(
        provider=provider,
        tools=registry,
        ctx=ctx,
        messages=(Message.system(system), Message.user(task.goal)),
        loop_config=LoopConfig(
            max_iterations=cfg.max_child_iterations,
            max_tokens=d.settings.config.model.max_tokens,
            temperature=d.settings.config.model.temperature,
        ),
        sink=sink,
        recorder=recorder,
        compressor=make_compressor(
            d.runtime, d.settings, model=provider.model, schemas=registry.schemas()
        ),
    )
    run = Run(setup)
    ctx.run_id = run.run_id
    return _Child(index, number, task, run, sink, child_delegation)


async def _watchdog(child: _Child, cfg: DelegationConfig, started: float) -> None:
    """Stop a child that runs too long or stops making progress; needs no cooperation."""
    while True:
        now = time.monotonic()
        wall_left = started + cfg.child_timeout_s - now
        idle_left = child.sink.last_progress + cfg.child_idle_timeout_s - now
        if wall_left <= 0:
            child.run.interrupt(
                f"timed out after {cfg.child_timeout_s:g}s (delegation.child_timeout_s)",
                status="timed_out",
            )
            return
        if idle_left <= 0:
            child.run.interrupt(
                f"no progress for {cfg.child_idle_timeout_s:g}s (delegation.child_idle_timeout_s)",
                status="timed_out",
            )
            return
        await asyncio.sleep(min(wall_left, idle_left) + 0.001)


async def run_tasks(parent: ToolContext, tasks: Sequence[TaskSpec]) -> dict[str, Any]:
    """Run every task as a child; returns the ``delegate_task`` result object."""
    d = parent.delegation
    assert d is not None
    cfg = d.settings.config.delegation
    started = time.monotonic()
    entries: list[dict[str, Any] | None] = [None] * len(tasks)
    children: list[_Child] = []
    for i, task in enumerate(tasks):  # built one after another, on the loop
        choice = choose_model(task.model, cfg)
        try:
            if choice.error:
                raise TalariaError(choice.error)
            provider = d.provider
            if choice.allowed is not None:
                from talaria.providers.factory import build_provider_for

                m = choice.allowed
                provider = build_provider_for(
                    d.settings,
                    d.runtime.pool,
                    provider=m.provider,
                    model=m.name,
                    base_url=m.base_url,
                )
            child = _build_child(d, parent, i, task, provider)
        except TalariaError as e:
            number = d.next_number()
            entries[i] = _entry(
                i,
                (*d.path, number),
                status="failed",
                model=task.model or "",
                error=str(e),
                goal=task.goal,
            )
            d.children.append(entries[i])  # type: ignore[arg-type]
            d.sink.emit(
                ChildFinished(
                    task_index=i,
                    status="failed",
                    duration_s=0.0,
                    usage=Usage(),
                    error=str(e),
                    path=(number,),
                )
            )
            continue
        children.append(child)
        d.sink.emit(ChildQueued(task_index=i, goal=task.goal, path=(child.number,)))

    async def supervise(child: _Child) -> None:
        async with d.limiter.slot() as slot:
            if child.delegation is not None:
                child.delegation.slot = slot
            t0 = time.monotonic()
            child.sink.last_progress = t0
            d.sink.emit(
                ChildStarted(
                    task_index=child.index,
                    goal=child.task.goal,
                    model=child.run.setup.provider.model,
                    session_id=None,
                    path=(child.number,),
                )
            )
            watchdog = asyncio.ensure_future(_watchdog(child, cfg, t0))
            result: RunResult | None = None
            try:
                result = await child.run.execute()
            finally:
                watchdog.cancel()
                result = result or child.run.result
                if result is not None:
                    _finish(d, child, result, time.monotonic() - t0, entries)
                    if d.recorder is not None:  # usage rolls up into the parent's session
                        await concurrency.shielded(d.recorder.add_usage(result.usage, api_calls=0))

    async with d.limiter.lend(d.slot), asyncio.TaskGroup() as tg:
        for child in children:
            tg.create_task(supervise(child))
    usage = Usage()
    for child in children:
        if child.run.result is not None:
            usage += child.run.result.usage
    return {
        "results": entries,
        "total_duration_s": round(time.monotonic() - started, 3),
        "usage": usage.to_dict(),
    }


def _finish(
    d: DelegationContext,
    child: _Child,
    result: RunResult,
    duration: float,
    entries: list[dict[str, Any] | None],
) -> None:
    """Record one finished (or interrupted) child in the parent's ledger and totals."""
    entry = _entry(
        child.index,
        (*d.path, child.number),
        status=result.status,
        model=result.model,
        result=result,
        duration=duration,
        goal=child.task.goal,
    )
    entries[child.index] = entry
    d.children.append(entry)
    d.children_usage += result.usage
    d.sink.emit(
        ChildFinished(
            task_index=child.index,
            status=result.status,
            duration_s=duration,
            usage=result.usage,
            error=result.error,
            path=(child.number,),
        )
    )
