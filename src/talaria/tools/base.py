"""``Tool`` and the ``@tool`` decorator.

A tool is a plain function.  Its JSON schema is derived from its type hints and
the ``Args:`` section of its docstring, and its arguments are validated by
msgspec against the same types, so the schema the model sees and the checks the
arguments pass can never disagree.  Validation failures become error *results*
the model reads (``ToolError``), never exceptions in the loop.

Sync tools run in a worker thread, async tools on the loop.  A parameter named
``ctx`` (annotated ``ToolContext``) receives the per-run context and is not part
of the schema.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import msgspec

from talaria import concurrency
from talaria.errors import ToolError
from talaria.secrets import Redactor

if TYPE_CHECKING:
    from talaria.agent.recorder import Recorder
    from talaria.config import Settings
    from talaria.delegation.context import DelegationContext
    from talaria.providers.auxiliary import AuxiliaryRouter
    from talaria.store.base import SessionStore


@dataclass
class ToolContext:
    """Everything a tool may know about the run calling it.

    Per-run, never global: two runs in one process get two contexts, so one
    run's working directory, todo list or environment cannot leak into another.
    """

    run_id: str
    cwd: Path
    settings: Settings
    env: Mapping[str, str]
    """The subprocess environment, already scrubbed of secret-looking variables."""
    redact: Redactor = field(default_factory=Redactor)
    state: dict[str, Any] = field(default_factory=dict)
    """Per-run scratch space owned by tools (the ``todo`` list lives here)."""
    session_id: str | None = None
    """This run's stored session, once it exists."""
    open_store: Callable[[], Awaitable[SessionStore]] | None = None
    """Opens (or returns) the session store, for tools that read history."""
    delegation: DelegationContext | None = None
    """Present when this run may call ``delegate_task``."""
    aux: Callable[[], AuxiliaryRouter] | None = None
    """The side-task router (``web_extract`` for long pages), when available."""
    recorder: Recorder | None = None
    """This run's session recorder, for tools that account side-task usage."""

    def resolve(self, path: str) -> Path:
        """Resolve a user/model supplied path relative to the run's working directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.cwd / p


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    toolset: str
    fn: Callable[..., Any]
    args_type: type[msgspec.Struct]
    takes_context: bool
    is_async: bool
    needs_human: bool = False
    writes_memory: bool = False
    caps_own_output: bool = False
    """The tool keeps its output within ``agent.max_tool_output_chars`` itself, in a
    way that preserves its structure (the executor would cut blindly)."""

    def schema(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry for this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """Validate the model's raw JSON arguments; ``ToolError`` says what is wrong."""
        text = raw.strip() or "{}"
        try:
            obj = msgspec.json.decode(text, type=self.args_type)
        except msgspec.ValidationError as e:
            raise ToolError(f"invalid arguments for {self.name}: {_friendly(str(e))}") from None
        except msgspec.DecodeError as e:
            raise ToolError(
                f"arguments for {self.name} are not valid JSON ({e}); "
                "send a single JSON object matching the tool's schema"
            ) from None
        return {f: getattr(obj, f) for f in obj.__struct_fields__}

    async def invoke(self, ctx: ToolContext, raw_arguments: str) -> str:
        kwargs = self.parse_arguments(raw_arguments)
        if self.takes_context:
            kwargs["ctx"] = ctx
        if self.is_async:
            out = await self.fn(**kwargs)
        else:
            out = await concurrency.to_thread(self.fn, **kwargs)
        return out if isinstance(out, str) else msgspec.json.encode(out).decode()


def _friendly(msg: str) -> str:
    # msgspec says "Expected `int`, got `str` - at `$.timeout`"; say it for humans.
    return msg.replace("`$.", "`").replace(" - at `", " at `")


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]+:\s*$")
_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {param: description})."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    desc: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines) and not _ARGS_HEADER.match(lines[i]):
        desc.append(lines[i])
        i += 1
    current: str | None = None
    for line in lines[i + 1 :]:
        if _SECTION.match(line) and not line.startswith((" ", "\t")):
            break
        m = _ARG_LINE.match(line)
        if m and len(line) - len(line.lstrip()) <= 4:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current and line.strip():
            params[current] += " " + line.strip()
    return "\n".join(desc).strip(), params


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """Inline ``$ref``s: not every OpenAI-compatible server resolves ``$defs``."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _inline_refs(defs[name], defs)
        out = {k: _inline_refs(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
        enum = out.get("enum")
        if isinstance(enum, list) and "type" not in out and all(isinstance(e, str) for e in enum):
            out["type"] = "string"  # strict servers reject an enum without a type
        return out
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def tool(
    *,
    toolset: str,
    name: str | None = None,
    needs_human: bool = False,
    writes_memory: bool = False,
    caps_own_output: bool = False,
) -> Callable[[Callable[..., Any]], Tool]:
    """Turn a function into a :class:`Tool` of ``toolset``."""

    def wrap(fn: Callable[..., Any]) -> Tool:
        tool_name = name or fn.__name__
        description, param_docs = parse_docstring(fn.__doc__)
        hints = get_type_hints(fn, include_extras=True)
        sig = inspect.signature(fn)
        fields: list[tuple[str, Any, Any] | tuple[str, Any]] = []
        takes_context = False
        for pname, param in sig.parameters.items():
            if pname == "ctx":
                takes_context = True
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {tool_name}: *args/**kwargs are not supported")
            ann = hints.get(pname, Any)
            doc = param_docs.get(pname)
            if doc:
                ann = Annotated[ann, msgspec.Meta(description=doc)]
            if param.default is inspect.Parameter.empty:
                fields.append((pname, ann))
            else:
                fields.append((pname, ann, param.default))
        struct_name = "".join(p.title() for p in tool_name.split("_")) + "Args"
        args_type = msgspec.defstruct(struct_name, fields, kw_only=True, forbid_unknown_fields=True)
        raw_schema = msgspec.json.schema(args_type)
        defs = raw_schema.get("$defs", {})
        params = _inline_refs(raw_schema, defs)
        params.setdefault("properties", {})
        params.setdefault("required", [])
        params["additionalProperties"] = False
        return Tool(
            name=tool_name,
            description=description or tool_name,
            parameters=params,
            toolset=toolset,
            fn=fn,
            args_type=args_type,
            takes_context=takes_context,
            is_async=inspect.iscoroutinefunction(fn),
            needs_human=needs_human,
            writes_memory=writes_memory,
            caps_own_output=caps_own_output,
        )

    return wrap
