"""``talaria run``: one prompt, streamed answer, exit status from the run's status.

SIGINT interrupts the run (the whole tree: tool process groups are killed and
the HTTP stream closed) and the process exits 130; a second SIGINT exits at
once after killing any process group still alive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talaria import concurrency
from talaria.errors import ConfigError, TalariaError

if TYPE_CHECKING:
    from talaria.agent.agent import Agent
    from talaria.runtime import Runtime
    from talaria.types import RunResult

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    toolsets = None
    if args.toolsets is not None:
        toolsets = [t.strip() for t in args.toolsets.split(",") if t.strip()]
    return {
        "model.name": args.model,
        "model.provider": args.provider,
        "model.base_url": args.base_url,
        "model.api_key": args.api_key,
        "toolsets": toolsets,
        "agent.max_iterations": args.max_iterations,
        "agent.cwd": args.cwd,
    }


def _fail(message: str, code: int, json_mode: bool) -> int:
    if json_mode:
        payload = {
            "final": None,
            "status": "failed",
            "usage": None,
            "session_id": None,
            "error": message,
        }
        print(json.dumps(payload), flush=True)
    print(f"talaria: {message}", file=sys.stderr, flush=True)
    return code


def main(args: argparse.Namespace) -> int:
    prompt: str = args.prompt
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        return _fail("the prompt is empty", EXIT_CONFIG, args.json)
    from talaria.config import load_settings

    try:
        settings = load_settings(overrides=_overrides(args))
        from talaria.providers.factory import fallback_endpoints, primary_endpoint
        from talaria.providers.presets import missing_key_message

        primary = primary_endpoint(settings)
        if primary.key_required and not primary.api_key and not fallback_endpoints(settings):
            return _fail(
                missing_key_message(primary, str(settings.paths.env_file)), EXIT_CONFIG, args.json
            )
        if args.cwd and not Path(args.cwd).is_dir():
            raise ConfigError(f"--cwd {args.cwd} is not a directory")
        from talaria.tools.registry import load_toolsets

        try:
            load_toolsets(settings.config.toolsets)
        except ConfigError as e:
            raise ConfigError(e.detail, file=settings.origin("toolsets"), key="toolsets") from None
    except ConfigError as e:
        return _fail(f"configuration error: {e}", EXIT_CONFIG, args.json)
    try:
        return concurrency.run_main(_run(settings, prompt, args))
    except TalariaError as e:
        return _fail(str(e), EXIT_FAILED, args.json)


async def _resume_target(
    runtime: Any, settings: Any, args: argparse.Namespace
) -> tuple[list[Any], str | None]:
    """History and session id for ``--resume ID`` / ``--continue`` (else nothing)."""
    if not args.resume and not args.continue_:
        return [], None
    from talaria.store.base import SessionNotFound, StoreError

    store = await runtime.astore(settings)
    if args.resume:
        rec = await concurrency.to_thread(store.resolve, args.resume)
    else:
        recent = await concurrency.to_thread(store.list_sessions, limit=50)
        candidates = [r for r in recent if r.source != "subagent"]
        if not candidates:
            raise SessionNotFound("there is no session to continue yet")
        rec = candidates[0]
    if rec.status == "running":
        raise StoreError(
            f"session {rec.id} is still running (pid {rec.pid} on {rec.host}); "
            "wait for it to finish or interrupt it first"
        )
    stored = await concurrency.to_thread(store.messages, rec.id)
    return [m.to_message() for m in stored], rec.id


async def run_rendered(
    runtime: Runtime,
    agent: Agent,
    prompt: str,
    *,
    json_mode: bool = False,
    quiet: bool = False,
    show_reasoning: bool = False,
    history: list[Any] | None = None,
    resume_id: str | None = None,
) -> RunResult:
    """Run ``prompt`` with the terminal renderer and SIGINT wired to the interrupt."""
    from talaria.agent.stream import EventStream
    from talaria.cli.render import StreamRenderer
    from talaria.process import kill_all_process_groups

    loop = asyncio.get_running_loop()
    stream = EventStream()
    run = agent.prepare(
        prompt, runtime=runtime, sink=stream, history=history or (), resume_id=resume_id
    )
    renderer = StreamRenderer(
        sys.stdout, sys.stderr, json_mode=json_mode, quiet=quiet, show_reasoning=show_reasoning
    )
    sigints = 0

    def on_sigint() -> None:
        nonlocal sigints
        sigints += 1
        if sigints == 1:
            run.interrupt("interrupted by SIGINT")
            return
        kill_all_process_groups()
        os._exit(EXIT_INTERRUPTED)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    render_task = asyncio.ensure_future(renderer.consume(stream))
    try:
        return await run.execute()
    finally:
        stream.close()
        await render_task
        loop.remove_signal_handler(signal.SIGINT)


def exit_code(result: RunResult) -> int:
    if result.status == "completed":
        return EXIT_OK
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_FAILED


async def _run(settings: Any, prompt: str, args: argparse.Namespace) -> int:
    from talaria.agent.agent import Agent
    from talaria.runtime import Runtime

    runtime = Runtime()
    try:
        try:
            history, resume_id = await _resume_target(runtime, settings, args)
        except TalariaError as e:
            return _fail(str(e), EXIT_CONFIG, args.json)
        agent = Agent(settings, runtime=runtime, source="run")
        result = await run_rendered(
            runtime,
            agent,
            prompt,
            json_mode=args.json,
            quiet=args.quiet,
            show_reasoning=args.show_reasoning,
            history=history,
            resume_id=resume_id,
        )
        if args.json:
            print(json.dumps(result.to_json_dict(), ensure_ascii=False), flush=True)
        elif result.status != "completed" and result.error:
            print(f"talaria: {result.status}: {result.error}", file=sys.stderr, flush=True)
        return exit_code(result)
    finally:
        await runtime.aclose()
