"""``talaria doctor``: where every model request will go, and what is missing.

Side tasks that silently went to another endpoint than configured were a
reported bug of the agent Talaria replaces; the cure is to make resolution
visible.  ``doctor`` prints the config files, the main model's endpoint and
fallbacks, and for every auxiliary task the exact provider, base URL and model
it resolves to, which entry decided that, its timeout and whether its key is
present (or which variable to set).  It makes no network calls: it reports
what the configuration says, so it works offline and never spends tokens.

Exit status: 0 everything has the keys it needs, 1 a key is missing (the full
report is still printed), 2 the configuration is invalid.

This module is imported when the parser is built, so it imports nothing heavy
at module level.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

    from talaria.config import Settings
    from talaria.providers.presets import Endpoint

EXIT_OK, EXIT_MISSING_KEY, EXIT_CONFIG = 0, 1, 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="show where every model request goes and what is missing",
        description="Print the config files, the main model and, for every auxiliary task, "
        "the exact provider, base URL and model it will use, which entry decided it, and "
        "whether its API key is present. No network calls. Exit status: 0 all keys present, "
        "1 a key is missing, 2 invalid configuration.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(handler="talaria.cli.doctor_cmd:main")


def main(args: argparse.Namespace) -> int:
    import json

    from talaria.config import load_settings
    from talaria.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as e:
        if args.json:
            print(json.dumps({"ok": False, "config_errors": [str(e)]}), flush=True)
        print(f"talaria: configuration error: {e}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    report = build_report(settings)
    try:
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=2), flush=True)
        else:
            render(report, sys.stdout)
    except BrokenPipeError:
        pass
    return exit_code(report)


def exit_code(report: dict[str, Any]) -> int:
    if report["config_errors"]:
        return EXIT_CONFIG
    return EXIT_MISSING_KEY if report["problems"] else EXIT_OK


# --------------------------------------------------------------------------- report


def build_report(settings: Settings) -> dict[str, Any]:
    """Everything ``doctor`` knows, as JSON-ready data (never an API key)."""
    from talaria.errors import ConfigError
    from talaria.providers.aux_routes import TASKS, resolve_route
    from talaria.providers.factory import fallback_endpoints, primary_endpoint

    paths = settings.paths
    config_errors: list[str] = []
    needs: dict[tuple[str, str], list[str]] = {}  # (provider, key_source) -> who needs it

    def check(ep: Endpoint, who: str) -> None:
        if ep.key_required and not ep.api_key:
            needs.setdefault((ep.provider, ep.key_source), []).append(who)

    model: dict[str, Any]
    try:
        primary = primary_endpoint(settings)
        fallbacks = fallback_endpoints(settings)
        check(primary, "main model")
        for i, fb in enumerate(fallbacks):
            check(fb, f"fallback_providers[{i}]")
        model = {**endpoint_info(primary), "fallbacks": [endpoint_info(f) for f in fallbacks]}
    except ConfigError as e:
        config_errors.append(str(e))
        model = {"error": str(e)}

    auxiliary: dict[str, Any] = {}
    for task in TASKS:
        try:
            route = resolve_route(settings, task)
        except ConfigError as e:
            config_errors.append(str(e))
            auxiliary[task] = {"error": str(e)}
            continue
        check(route.endpoint, task)
        for i, fb in enumerate(route.fallbacks):
            check(fb, f"{task} fallback {i + 1}")
        auxiliary[task] = {
            **endpoint_info(route.endpoint),
            "source": route.source,
            "timeout": route.timeout,
            "max_tokens": route.max_tokens,
            "fallbacks": [endpoint_info(f) for f in route.fallbacks],
            "notes": list(route.notes),
            "explain": route.explain(),
        }

    problems = [
        f"missing API key for {provider} ({key_source}), needed by {', '.join(who)}: "
        + _how_to_set(key_source, str(paths.env_file))
        for (provider, key_source), who in needs.items()
    ]
    return {
        "ok": not problems and not config_errors,
        "paths": {
            "home": str(paths.home),
            "config_file": {"path": str(paths.config_file), "exists": paths.config_file.is_file()},
            "env_file": {"path": str(paths.env_file), "exists": paths.env_file.is_file()},
        },
        "model": model,
        "auxiliary": auxiliary,
        "store": store_info(settings),
        "problems": problems,
        "config_errors": config_errors,
    }


def endpoint_info(ep: Endpoint) -> dict[str, Any]:
    from talaria.providers.aux_routes import key_state

    return {
        "provider": ep.provider,
        "base_url": ep.base_url,
        "model": ep.model,
        "key_present": bool(ep.api_key),
        "key_required": ep.key_required,
        "key_source": ep.key_source,
        "key": key_state(ep),
    }


def _how_to_set(key_source: str, env_file: str) -> str:
    if key_source.endswith(".api_key"):
        return f"set {key_source}"
    return f"set {key_source} in the environment or in {env_file}"


def store_info(settings: Settings) -> dict[str, Any]:
    """The session store's path and, if it exists, its counts.  Never creates it."""
    path = settings.paths.state_db
    info: dict[str, Any] = {"path": str(path), "exists": path.is_file()}
    if not info["exists"]:
        return info
    from talaria.errors import TalariaError
    from talaria.store.sqlite import open_store

    try:
        store = open_store(settings, redact=settings.redactor())
        try:
            stats = store.stats()
        finally:
            store.close()
    except (TalariaError, OSError) as e:
        info["error"] = str(e)
        return info
    info.update(
        sessions=stats.sessions,
        messages=stats.messages,
        db_bytes=stats.db_bytes,
        wal_bytes=stats.wal_bytes,
    )
    return info


# --------------------------------------------------------------------------- text


def render(report: dict[str, Any], out: TextIO) -> None:
    def line(label: str, value: object, indent: int = 2) -> None:
        print(f"{' ' * indent}{label:<12}{value}", file=out)

    paths = report["paths"]
    print("Files", file=out)
    line("home", paths["home"])
    for label, key in (("config", "config_file"), ("env file", "env_file")):
        f = paths[key]
        line(label, f"{f['path']} ({'found' if f['exists'] else 'not found'})")

    print("\nMain model", file=out)
    _endpoint_lines(report["model"], line, indent=2)

    print("\nAuxiliary tasks", file=out)
    for task, info in report["auxiliary"].items():
        print(f"  {task}", file=out)
        if "error" in info:
            line("error", info["error"], 4)
            continue
        _endpoint_lines(info, line, indent=4, source=_source_label(info["source"]))
        for note in info["notes"]:
            line("note", note, 4)

    store = report["store"]
    print("\nSession store", file=out)
    line("path", store["path"] + ("" if store["exists"] else " (not created yet)"))
    if "error" in store:
        line("error", store["error"])
    elif store["exists"]:
        line(
            "stats",
            f"{store['sessions']} sessions, {store['messages']} messages, "
            f"{store['db_bytes'] / 1e6:.2f} MB (WAL {store['wal_bytes'] / 1e6:.2f} MB)",
        )

    print("", file=out)
    for err in report["config_errors"]:
        print(f"✗ configuration error: {err}", file=out)
    for problem in report["problems"]:
        print(f"✗ {problem}", file=out)
    if report["ok"]:
        print("✓ every endpoint has the key it needs (no requests were sent)", file=out)


def _source_label(source: str) -> str:
    return "main model (no auxiliary entry names an endpoint)" if source == "model" else source


def _endpoint_lines(
    info: dict[str, Any], line: Callable[[str, object, int], None], *, indent: int, source: str = ""
) -> None:
    if "error" in info:
        line("error", info["error"], indent)
        return
    line("provider", info["provider"], indent)
    line("base_url", info["base_url"], indent)
    line("model", info["model"], indent)
    if source:
        line("from", source, indent)
    if "timeout" in info:
        line("timeout", f"{info['timeout']:g}s", indent)
        mt = info["max_tokens"]
        line("max_tokens", "server default" if mt is None else mt, indent)
    line("key", info["key"], indent)
    fallbacks = info["fallbacks"]
    if not fallbacks:
        line("fallbacks", "none", indent)
    for i, fb in enumerate(fallbacks, 1):
        line(
            f"fallback {i}",
            f"{fb['provider']}/{fb['model']} at {fb['base_url']} [key {fb['key']}]",
            indent,
        )
