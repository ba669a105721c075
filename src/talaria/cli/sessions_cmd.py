"""``talaria sessions …``: list, show, search, export, delete, prune, stats, rename."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

from talaria.errors import ConfigError

if TYPE_CHECKING:
    from talaria.store.base import SessionRecord, SessionStore, StoredMessage

EXIT_ERROR, EXIT_CONFIG = 1, 2


def add_parser(sub: Any) -> None:
    sp = sub.add_parser("sessions", help="list, show, search and manage stored sessions")
    ss = sp.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    ls = ss.add_parser("list", help="recent sessions, newest first")
    ls.add_argument("--source", help="cli, run, subagent, telegram, api, ...")
    ls.add_argument("--status", help="running, completed, interrupted, failed, ...")
    ls.add_argument("--limit", "-n", type=int, default=30)
    ls.add_argument("--json", action="store_true", help="a JSON array")
    show = ss.add_parser("show", help="one session: lineage, usage and messages")
    show.add_argument("id", help="id, unique id prefix, or title")
    show.add_argument("--json", action="store_true")
    search = ss.add_parser("search", help="full-text search over every message")
    search.add_argument("query")
    search.add_argument("--limit", "-n", type=int, default=20)
    search.add_argument("--json", action="store_true")
    export = ss.add_parser("export", help="sessions with their messages as JSONL")
    export.add_argument("id", nargs="?", help="id, prefix or title")
    export.add_argument("--all", action="store_true", help="every session")
    delete = ss.add_parser("delete", help="delete a session and its subagent sessions")
    delete.add_argument("id")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask")
    prune = ss.add_parser("prune", help="delete ended sessions older than N days")
    prune.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    prune.add_argument("--yes", "-y", action="store_true", help="do not ask")
    ss.add_parser("stats", help="counts and database size")
    rename = ss.add_parser("rename", help="set a session's title")
    rename.add_argument("id")
    rename.add_argument("title")
    sp.set_defaults(handler="talaria.cli.sessions_cmd:main")


def main(args: argparse.Namespace) -> int:
    from talaria.config import load_settings
    from talaria.store.base import StoreError

    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"talaria: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    from talaria.store.sqlite import open_store

    store = open_store(settings, redact=settings.redactor())
    try:
        handler = _HANDLERS[args.sessions_command]
        return handler(store, args, sys.stdout)
    except StoreError as e:
        print(f"talaria: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return 0
    finally:
        store.close()


def _when(ts: float | None) -> str:
    import datetime as dt

    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M")


def _cost(c: float | None) -> str:
    return "-" if c is None else f"${c:.4f}"


def _tokens(rec: SessionRecord) -> str:
    total = rec.input_tokens + rec.output_tokens
    return f"{total / 1000:.1f}k" if total >= 1000 else str(total)


def _list(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    rows = store.list_sessions(source=args.source, status=args.status, limit=args.limit)
    if args.json:
        json.dump([r.to_json_dict() for r in rows], out, ensure_ascii=False)
        out.write("\n")
        return 0
    if not rows:
        print("no sessions", file=out)
        return 0
    print(
        f"{'ID':16}  {'STARTED':16}  {'SOURCE':8}  {'STATUS':14}  {'MSGS':>5}  "
        f"{'TOKENS':>7}  {'COST':>9}  TITLE",
        file=out,
    )
    untitled = [r.id for r in rows if not r.title and not r.goal]
    previews = store.previews(untitled, 60) if untitled else {}
    for r in rows:
        indent = "  " * min(r.depth, 4)
        title = (
            r.title or (r.goal or "")[:60] or (f"“{previews[r.id]}”" if r.id in previews else "")
        )
        print(
            f"{r.id:16}  {_when(r.started_at):16}  {r.source:8}  {r.status:14}  "
            f"{r.message_count:>5}  {_tokens(r):>7}  {_cost(r.cost_usd):>9}  {indent}{title}",
            file=out,
        )
    return 0


def _message_json(m: StoredMessage) -> dict[str, Any]:
    return {
        "seq": m.seq,
        "role": m.role,
        "content": m.content,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls
        ],
        "tool_call_id": m.tool_call_id,
        "tool_name": m.tool_name,
        "finish_reason": m.finish_reason,
        "reasoning": m.reasoning,
        "token_count": m.token_count,
        "created_at": m.created_at,
    }


def _show(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    rec = store.resolve(args.id)
    messages = store.messages(rec.id)
    lineage = store.lineage(rec.id)
    children = store.children(rec.id)
    if args.json:
        data = rec.to_json_dict()
        data["system_prompt"] = rec.system_prompt
        data["lineage"] = [r.id for r in lineage]
        data["children"] = [c.to_json_dict() for c in children]
        data["aux_usage"] = {k: v.to_json_dict() for k, v in store.aux_usage(rec.id).items()}
        data["messages"] = [_message_json(m) for m in messages]
        json.dump(data, out, ensure_ascii=False)
        out.write("\n")
        return 0
    print(f"session   {rec.id}" + (f"  “{rec.title}”" if rec.title else ""), file=out)
    print(f"status    {rec.status}" + (f" ({rec.end_reason})" if rec.end_reason else ""), file=out)
    print(f"source    {rec.source}   model {rec.provider}/{rec.model}", file=out)
    print(f"started   {_when(rec.started_at)}   ended {_when(rec.ended_at)}", file=out)
    print(
        f"usage     {rec.input_tokens} in / {rec.output_tokens} out tokens, "
        f"{_cost(rec.cost_usd)}, {rec.api_calls} model calls, {rec.tool_call_count} tool calls",
        file=out,
    )
    for task, a in store.aux_usage(rec.id).items():
        print(
            f"side task {task}: {a.calls} call(s), {a.usage.input_tokens} in / "
            f"{a.usage.output_tokens} out tokens, {_cost(a.usage.cost_usd)}",
            file=out,
        )
    if len(lineage) > 1:
        print("lineage   " + " → ".join(r.id for r in lineage), file=out)
    if rec.goal:
        print(f"goal      {rec.goal}", file=out)
    for c in children:
        print(f"child     {c.id}  {c.status:12}  {(c.goal or c.title or '')[:70]}", file=out)
    print(file=out)
    for m in messages:
        _print_message(m, out)
    return 0


def _print_message(m: StoredMessage, out: TextIO) -> None:
    if m.role == "system":
        text = (m.content or "").strip().splitlines()
        print(f"[{m.seq}] system: {text[0] if text else ''} …", file=out)
        return
    label = m.role if m.role != "tool" else f"tool {m.tool_name or ''}"
    body = (m.content or "").rstrip()
    if m.tool_calls:
        calls = ", ".join(f"{c.name}({c.arguments[:80]})" for c in m.tool_calls)
        body = (body + "\n" if body else "") + f"→ {calls}"
    if m.role == "tool" and len(body) > 600:
        body = body[:600] + f"… [{len(body) - 600} more characters]"
    print(f"[{m.seq}] {label}: {body}", file=out)


def _search(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    hits = store.search(args.query, limit=args.limit)
    if args.json:
        json.dump(
            [
                {
                    "session_id": h.session_id,
                    "seq": h.seq,
                    "role": h.role,
                    "snippet": h.snippet,
                    "rank": h.rank,
                    "session_title": h.session_title,
                    "created_at": h.created_at,
                }
                for h in hits
            ],
            out,
            ensure_ascii=False,
        )
        out.write("\n")
        return 0
    if not hits:
        print("no matches", file=out)
        return 0
    bold = out.isatty()
    for h in hits:
        snippet = " ".join(h.snippet.split())
        if bold:
            snippet = snippet.replace("[", "\x1b[1m").replace("]", "\x1b[0m")
        title = f" “{h.session_title}”" if h.session_title else ""
        print(f"{h.session_id}{title} #{h.seq} {h.role}: {snippet}", file=out)
    return 0


def _export(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    records: Iterable[SessionRecord]
    if args.all:
        records = store.list_sessions(limit=1_000_000_000)
    elif args.id:
        records = [store.resolve(args.id)]
    else:
        print("talaria: give a session id or --all", file=sys.stderr)
        return EXIT_CONFIG
    for rec in records:
        data = rec.to_json_dict()
        data["system_prompt"] = rec.system_prompt
        data["messages"] = [_message_json(m) for m in store.messages(rec.id)]
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
    return 0


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        print("talaria: refusing without --yes (stdin is not a terminal)", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _delete(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    rec = store.resolve(args.id)
    if not _confirm(f"delete session {rec.id} and its subagent sessions?", args.yes):
        return EXIT_ERROR
    n = store.delete(rec.id)
    print(f"deleted {n} session{'s' if n != 1 else ''}", file=out)
    return 0


def _prune(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    if not _confirm(f"delete ended sessions older than {args.older_than:g} days?", args.yes):
        return EXIT_ERROR
    n = store.prune(args.older_than)
    print(f"pruned {n} session{'s' if n != 1 else ''}", file=out)
    return 0


def _stats(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    s = store.stats()
    print(f"database  {s.path}", file=out)
    print(f"size      {s.db_bytes / 1e6:.2f} MB (WAL {s.wal_bytes / 1e6:.2f} MB)", file=out)
    print(f"sessions  {s.sessions}", file=out)
    print(f"messages  {s.messages}", file=out)
    for k, v in sorted(s.by_status.items()):
        print(f"  status {k:14} {v}", file=out)
    for k, v in sorted(s.by_source.items()):
        print(f"  source {k:14} {v}", file=out)
    return 0


def _rename(store: SessionStore, args: argparse.Namespace, out: TextIO) -> int:
    rec = store.resolve(args.id)
    store.rename(rec.id, args.title)
    print(f"renamed {rec.id} to “{args.title}”", file=out)
    return 0


_HANDLERS = {
    "list": _list,
    "show": _show,
    "search": _search,
    "export": _export,
    "delete": _delete,
    "prune": _prune,
    "stats": _stats,
    "rename": _rename,
}
