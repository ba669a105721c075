"""The ``talaria`` command.  Parses arguments and dispatches; imports nothing heavy.

``talaria --help`` must start fast, so every subcommand's implementation is
imported only when that subcommand runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

VERSION = "0.1.0"  # keep in step with talaria.__version__


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="talaria",
        description="Talaria: a self-hosted, tool-using AI agent that delegates to subagents. "
        "Without a COMMAND, opens the interactive chat.",
    )
    parser.add_argument("--version", action="version", version=f"talaria {VERSION}")
    chat = parser.add_argument_group("interactive chat (no COMMAND)")
    resume = chat.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume", "-r", metavar="ID", help="re-open a session (id, prefix or title)"
    )
    resume.add_argument(
        "--continue", "-c", dest="continue_", action="store_true", help="re-open the latest session"
    )
    chat.add_argument("--model", "-m", help="model name (model.name)")
    chat.add_argument("--provider", help="openrouter, openai, nous, ollama or custom")
    chat.add_argument("--base-url", help="OpenAI-compatible endpoint URL")
    chat.add_argument("--toolsets", "-t", help="comma-separated toolsets")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run one prompt to completion and exit",
        description="Run one prompt. The answer streams to stdout, tool activity to stderr. "
        "Exit status: 0 completed, 1 failed, 2 bad configuration, 130 interrupted.",
    )
    run.add_argument("prompt", help="the prompt, or - to read it from stdin")
    run.add_argument("--model", "-m", help="model name (model.name)")
    run.add_argument(
        "--provider", help="openrouter, openai, nous, ollama or custom (model.provider)"
    )
    run.add_argument("--base-url", help="OpenAI-compatible endpoint URL (model.base_url)")
    run.add_argument("--api-key", help="API key (prefer the provider's environment variable)")
    run.add_argument("--toolsets", "-t", help="comma-separated toolsets, e.g. terminal,file")
    run.add_argument("--max-iterations", type=int, help="model-call budget (agent.max_iterations)")
    run.add_argument("--cwd", help="working directory for tools (default: current directory)")
    run.add_argument(
        "--json", action="store_true", help="print only one JSON object with the result on stdout"
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no tool activity on stderr")
    resume = run.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume", "-r", metavar="ID", help="continue a stored session (id, prefix or title)"
    )
    resume.add_argument(
        "--continue",
        "-c",
        dest="continue_",
        action="store_true",
        help="continue the most recent session",
    )
    run.add_argument(
        "--show-reasoning", action="store_true", help="show the model's reasoning on stderr"
    )
    run.set_defaults(handler="talaria.cli.run_cmd:main")

    from talaria.cli.demo_cmd import add_parser as add_demo
    from talaria.cli.doctor_cmd import add_parser as add_doctor
    from talaria.cli.sessions_cmd import add_parser as add_sessions

    add_sessions(sub)
    add_demo(sub)
    add_doctor(sub)

    cfg = sub.add_parser("config", help="show or change configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cfg_sub.add_parser("show", help="print the effective configuration (secrets masked)")
    get = cfg_sub.add_parser("get", help="print one key, e.g. model.name")
    get.add_argument("key")
    setp = cfg_sub.add_parser(
        "set",
        help="set a key in config.yaml (secrets go to .env)",
        description="Set KEY to VALUE. VALUE is read as YAML (10, true, [a, b]); lists also "
        "accept a,b. Comments and key order in config.yaml are preserved; secret keys "
        "(api_key, token, ...) are written to .env instead.",
    )
    setp.add_argument("key")
    setp.add_argument("value")
    cfg_sub.add_parser("path", help="print the path of config.yaml")
    cfg.set_defaults(handler="talaria.cli.config_cmd:main")
    return parser


# Commands after which the interpreter's own teardown (module finalisation, atexit
# joins of idle worker threads: ~50 ms) is skipped.  Safe because they close their
# runtime — stores flushed and checkpointed, HTTP clients closed, tool processes
# reaped — before returning, and ``entry`` flushes stdout/stderr first.
_FAST_EXIT_COMMANDS = frozenset({"run"})
_fast_exit = False


def main(argv: Sequence[str] | None = None) -> int:
    global _fast_exit
    parser = _build_parser()
    args = parser.parse_args(argv)
    _fast_exit = args.command in _FAST_EXIT_COMMANDS
    handler = getattr(args, "handler", None) or "talaria.cli.repl:main"
    module_name, func_name = handler.split(":")
    import importlib

    module = importlib.import_module(module_name)
    code: int = getattr(module, func_name)(args)
    return code


def entry() -> None:
    code = main()
    if _fast_exit:
        import os

        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass
        os._exit(code)
    sys.exit(code)
