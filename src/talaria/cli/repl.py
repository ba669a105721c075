"""``talaria`` with no subcommand: the interactive chat.

prompt_toolkit for input (multi-line, persistent history, completion of
``/commands`` and their arguments, a bottom toolbar), the shared command
registry for ``/commands``, and the REPL renderer for output.  When stdin is
not a terminal the same loop reads plain lines and prints plain text, so it
can be scripted.

Keys: Enter sends; Alt-Enter, Esc then Enter, or a trailing backslash add a
line.  Ctrl-C while the agent works interrupts the turn (and its subagents);
at the prompt it clears the line, and on an empty line a second Ctrl-C within
2 s — or Ctrl-D — exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from talaria.errors import ConfigError

if TYPE_CHECKING:
    from talaria.cli.repl_session import ReplSession
    from talaria.commands.dispatch import Dispatcher

DOUBLE_CTRL_C_S = 2.0


def main(args: argparse.Namespace) -> int:
    from talaria import concurrency
    from talaria.config import load_settings

    overrides = {
        "model.name": getattr(args, "model", None),
        "model.provider": getattr(args, "provider", None),
        "model.base_url": getattr(args, "base_url", None),
        "toolsets": [t for t in args.toolsets.split(",") if t]
        if getattr(args, "toolsets", None)
        else None,
    }
    try:
        settings = load_settings(overrides=overrides)
    except ConfigError as e:
        print(f"talaria: configuration error: {e}", file=sys.stderr)
        return 2
    return concurrency.run_main(_repl(settings, args))


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


async def _repl(settings: Any, args: argparse.Namespace) -> int:
    from talaria.cli.repl_render import ReplRenderer
    from talaria.cli.repl_session import ReplSession
    from talaria.commands.builtins import builtin_registry
    from talaria.commands.dispatch import Dispatcher
    from talaria.commands.quick import load_quick_commands
    from talaria.runtime import Runtime

    interactive = _interactive()
    fancy = interactive and os.environ.get("TERM") != "dumb"
    registry = builtin_registry()
    quick, problems = load_quick_commands(
        settings.config.quick_commands,
        builtin_names=registry.all_names,
        source=str(settings.paths.config_file),
    )
    for p in problems:
        print(f"talaria: {p}", file=sys.stderr)
    dispatcher = Dispatcher(registry, quick, surface="cli")
    _warn_if_no_key(settings)
    runtime = Runtime()
    session = ReplSession(
        settings,
        runtime,
        out=sys.stdout,
        err=sys.stderr,
        fancy=fancy,
        make_renderer=lambda: ReplRenderer(sys.stdout, sys.stderr, fancy=fancy),
    )
    keys = CtrlC(session)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, keys.signal)
    try:
        if getattr(args, "resume", None) or getattr(args, "continue_", False):
            message = await _initial_resume(session, args)
            if message is None:
                return 1
            print(message, flush=True)
        if fancy:
            return await _interactive_loop(session, dispatcher, keys)
        return await _plain_loop(session, dispatcher, keys, prompt="› " if interactive else "")
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await session.close()
        await runtime.aclose()


class CtrlC:
    """One policy for Ctrl-C wherever it lands.

    While a turn runs, SIGINT interrupts it.  Otherwise (at the prompt, or in the
    instant between prompts when the terminal is not in raw mode) it counts
    toward "two Ctrl-C within 2 s exits".
    """

    def __init__(self, session: ReplSession) -> None:
        self.session = session
        self.last = 0.0
        self.exit_requested = False

    def press(self) -> bool:
        """Register a Ctrl-C outside a turn; True when it is the second within the window."""
        now = time.monotonic()
        double = now - self.last < DOUBLE_CTRL_C_S
        self.last = now
        if double:
            self.exit_requested = True
            self._end_prompt()
        else:
            print("(Ctrl-C again or Ctrl-D to exit)", file=sys.stderr, flush=True)
        return double

    @staticmethod
    def _end_prompt() -> None:
        """A SIGINT can land while a prompt is up but not yet in raw mode: end it too."""
        from prompt_toolkit.application import get_app_or_none

        app = get_app_or_none()
        if app is not None and app.is_running and app.future is not None and not app.future.done():
            app.exit(exception=EOFError())

    def check(self) -> None:
        """``pre_run`` hook of each prompt: exit at once if a double Ctrl-C already happened."""
        if self.exit_requested:
            self._end_prompt()

    def signal(self) -> None:
        run = self.session.current
        if run is not None:
            run.interrupt("interrupted (Ctrl-C)")
        else:
            self.press()


def _warn_if_no_key(settings: Any) -> None:
    """Say at once what to set, rather than after the first message fails."""
    from talaria.providers.factory import fallback_endpoints, primary_endpoint
    from talaria.providers.presets import missing_key_message

    try:
        ep = primary_endpoint(settings)
    except ConfigError as e:
        print(f"talaria: configuration error: {e}", file=sys.stderr)
        return
    if ep.key_required and not ep.api_key and not fallback_endpoints(settings):
        print(
            f"talaria: {missing_key_message(ep, str(settings.paths.env_file))}\n"
            "         (to see Talaria work without a key: talaria demo)",
            file=sys.stderr,
        )


async def _initial_resume(session: ReplSession, args: argparse.Namespace) -> str | None:
    from talaria import concurrency
    from talaria.commands.registry import CommandError

    ident = getattr(args, "resume", None)
    if not ident:
        store = await session.store()
        recent = await concurrency.to_thread(store.list_sessions, limit=50)
        candidates = [r for r in recent if r.source != "subagent"]
        if not candidates:
            print("talaria: there is no session to continue yet", file=sys.stderr)
            return None
        ident = candidates[0].id
    try:
        return await session.resume(ident)
    except CommandError as e:
        print(f"talaria: {e}", file=sys.stderr)
        return None


async def _handle_line(line: str, session: ReplSession, dispatcher: Dispatcher) -> None:
    while session.notes:
        print(f"talaria: {session.notes.pop(0)}", file=sys.stderr, flush=True)
    outcome = await dispatcher.dispatch(line, session)
    if outcome is None:
        await session.ask(line)
    elif outcome.text:
        stream = sys.stderr if outcome.error else sys.stdout
        print(outcome.text, file=stream, flush=True)


async def _plain_loop(
    session: ReplSession, dispatcher: Dispatcher, keys: CtrlC, *, prompt: str
) -> int:
    """Plain line input: piped stdin (no chrome at all) or a dumb terminal (a bare prompt)."""
    from talaria import concurrency

    while not session.quit_requested and not keys.exit_requested:
        if prompt:
            sys.stdout.write(prompt)
            sys.stdout.flush()
        line = await concurrency.to_thread(sys.stdin.readline)
        if not line:
            break
        if line.strip():
            await _handle_line(line.rstrip("\n"), session, dispatcher)
    return 0


async def _interactive_loop(session: ReplSession, dispatcher: Dispatcher, keys: CtrlC) -> int:
    from talaria.cli.repl_input import build_prompt

    prompt = build_prompt(session, dispatcher)
    # In the background: the prompt must not wait for the store to open.
    refresh = asyncio.ensure_future(session.refresh_recent())
    banner = (
        f"Talaria — {session.model_label()}. /help for commands; "
        "Ctrl-C stops the agent, Ctrl-D exits."
    )
    print(banner, file=sys.stderr)
    while not session.quit_requested and not keys.exit_requested:
        try:
            # prompt_toolkit must not take over SIGINT: our handler stays installed.
            line = await prompt.prompt_async(handle_sigint=False, pre_run=keys.check)
        except KeyboardInterrupt:  # Ctrl-C on an empty line (a non-empty one is cleared)
            if keys.press():
                break
            continue
        except EOFError:
            break
        if line.strip():
            await _handle_line(line, session, dispatcher)
    await refresh
    return 0
