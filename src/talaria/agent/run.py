"""A ``Run``: one execution of the turn loop, with its status, usage and interrupt.

``interrupt()`` may be called from any thread or a signal handler: it is
marshalled onto the run's loop and cancels the task doing the work.
Cancellation unwinds every await in that task (the HTTP stream is closed, tool
subprocess groups are killed in their ``finally``), and the run still records
exactly one terminal status.  Interrupting one run never touches another: the
cancel targets this run's own task, nothing global.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from talaria import concurrency
from talaria.agent.compression import Compressor
from talaria.agent.loop import LoopConfig, LoopState, run_turns
from talaria.agent.recorder import Recorder
from talaria.errors import ProviderError
from talaria.events import EventSink, RunFinished, RunStarted
from talaria.providers.base import Provider
from talaria.tools.base import ToolContext
from talaria.tools.registry import ToolRegistry
from talaria.types import Message, RunResult, RunStatus

log = logging.getLogger(__name__)

INTERRUPTED_TOOL_RESULT = "Error: interrupted before this tool call finished."


@dataclass(frozen=True)
class RunSetup:
    """Everything a run needs, assembled by the caller (``Agent`` or the CLI)."""

    provider: Provider
    tools: ToolRegistry
    ctx: ToolContext
    messages: tuple[Message, ...]
    loop_config: LoopConfig
    sink: EventSink
    recorder: Recorder | None = None
    compressor: Compressor | None = None


class Run:
    def __init__(self, setup: RunSetup, *, run_id: str | None = None) -> None:
        self.setup = setup
        self.run_id = run_id or os.urandom(6).hex()
        self.state = LoopState(
            messages=list(setup.messages), recorder=setup.recorder, compressor=setup.compressor
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: asyncio.Task[tuple[RunStatus, str | None]] | None = None
        self._interrupt_reason: str | None = None
        self._interrupt_status: RunStatus = "interrupted"
        self._result: RunResult | None = None

    @property
    def result(self) -> RunResult | None:
        return self._result

    @property
    def interrupted(self) -> bool:
        return self._interrupt_reason is not None

    def interrupt(
        self, reason: str = "interrupted by the user", *, status: RunStatus = "interrupted"
    ) -> None:
        """Stop this run from any thread or a signal handler; idempotent (first call wins).

        ``status`` is what the run will report: ``interrupted`` for a user's stop,
        ``timed_out`` when a supervisor enforces a time limit.
        """
        loop = self._loop
        if loop is None:
            if self._interrupt_reason is None:
                self._interrupt_reason, self._interrupt_status = reason, status
            return
        concurrency.marshal(loop, self._cancel_on_loop, reason, status)

    def _cancel_on_loop(self, reason: str, status: RunStatus = "interrupted") -> None:
        if self._interrupt_reason is None:
            self._interrupt_reason, self._interrupt_status = reason, status
        if self._work is not None and not self._work.done():
            self._work.cancel(reason)

    async def execute(self) -> RunResult:
        """Run to a terminal status.  Returns normally when interrupted via ``interrupt()``;
        re-raises ``CancelledError`` when the *caller* was cancelled (after recording)."""
        if self._result is not None:
            raise RuntimeError("a Run executes once")
        self._loop = asyncio.get_running_loop()
        setup = self.setup
        provider = setup.provider
        started = time.monotonic()
        setup.sink.emit(
            RunStarted(run_id=self.run_id, model=provider.model, provider=provider.name)
        )
        status: RunStatus
        error: str | None = None
        outer_cancelled = False
        self._work = asyncio.ensure_future(self._guarded())
        if self._interrupt_reason is not None:
            self._work.cancel(self._interrupt_reason)
        try:
            status, error = await self._work
        except asyncio.CancelledError:
            task = asyncio.current_task()
            outer_cancelled = task is not None and task.cancelling() > 0
            if not self._work.done():
                self._work.cancel()
                await asyncio.wait({self._work})
            status = "interrupted" if outer_cancelled else self._interrupt_status
            error = self._interrupt_reason or "cancelled"
            await concurrency.shielded(self._repair_transcript())
        recorder = setup.recorder
        usage = self.state.usage
        extra: dict[str, Any] = {}
        delegation = setup.ctx.delegation
        if delegation is not None and delegation.children:
            usage = usage + delegation.children_usage  # children's usage rolls up
            extra["children"] = list(delegation.children)
        if recorder is not None and recorder.aux_totals:
            extra["aux_usage"] = {
                task: {"calls": calls, **u.to_dict()}
                for task, (calls, u) in recorder.aux_totals.items()
            }
        result = RunResult(
            status=status,
            final=self.state.final,
            messages=tuple(self.state.messages),
            usage=usage,
            model=self.state.last_model or provider.model,
            provider=provider.name,
            error=error,
            api_calls=self.state.api_calls,
            tool_calls=self.state.tool_calls,
            duration_s=time.monotonic() - started,
            session_id=recorder.session_id if recorder is not None else None,
            extra=extra,
        )
        if recorder is not None:
            await concurrency.shielded(recorder.finish(result))
        self._result = result
        setup.sink.emit(RunFinished(result=result))
        if outer_cancelled:
            raise asyncio.CancelledError
        return result

    async def _guarded(self) -> tuple[RunStatus, str | None]:
        setup = self.setup
        warm = getattr(setup.provider, "warm", None)
        warming = asyncio.ensure_future(warm()) if warm is not None else None
        try:
            if setup.recorder is not None:
                setup.ctx.session_id = await setup.recorder.start(self.state.messages, setup.sink)
            if warming is not None:
                await asyncio.wait({warming})  # a failure here resurfaces on the real call
            return await run_turns(
                self.state,
                provider=setup.provider,
                tools=setup.tools,
                ctx=setup.ctx,
                sink=setup.sink,
                config=setup.loop_config,
            )
        except ProviderError as e:
            return "failed", str(e)
        except Exception as e:  # never crash the caller: a bug becomes a failed run
            log.exception("run %s failed with an internal error", self.run_id)
            return "failed", f"internal error: {type(e).__name__}: {e}"
        finally:
            if warming is not None and not warming.done():
                warming.cancel()

    async def _repair_transcript(self) -> None:
        """Keep the partial answer and close dangling tool calls, so the transcript
        can be resumed (providers reject tool calls without results)."""
        msgs = self.state.messages
        partial = "".join(self.state.partial_text)
        if partial:
            self.state.partial_text.clear()
            await self.state.add(
                Message(role="assistant", content=partial, finish_reason="interrupted")
            )
            return
        for i in range(len(msgs) - 1, -1, -1):
            m = msgs[i]
            if m.role == "assistant":
                answered = {x.tool_call_id for x in msgs[i + 1 :] if x.role == "tool"}
                missing = [
                    Message.tool(c.id, c.name, INTERRUPTED_TOOL_RESULT)
                    for c in m.tool_calls
                    if c.id not in answered
                ]
                await self.state.add(*missing)
                return
            if m.role == "user":
                return
