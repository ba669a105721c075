"""Building the one ``Settings`` object: defaults ← config.yaml ← .env/env ← flags.

Settings are built once per process (or per library ``Agent``) and passed down;
nothing here writes to ``os.environ``.  Every way config can be wrong becomes a
:class:`ConfigError` naming the file, the key and the expected type.

Environment overrides: a few short names (``TALARIA_MODEL``, ``TALARIA_PROVIDER``,
``TALARIA_BASE_URL``, ``TALARIA_API_KEY``, ``TALARIA_MAX_ITERATIONS``,
``TALARIA_TOOLSETS``) and the general form ``TALARIA_<SECTION>__<KEY>``, e.g.
``TALARIA_TERMINAL__TIMEOUT=60``.  Process variables win over ``.env``.
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from talaria.config_schema import Config
from talaria.errors import ConfigError
from talaria.paths import Paths
from talaria.secrets import Redactor

SHORT_ENV = {
    "TALARIA_MODEL": "model.name",
    "TALARIA_PROVIDER": "model.provider",
    "TALARIA_BASE_URL": "model.base_url",
    "TALARIA_API_KEY": "model.api_key",
    "TALARIA_MAX_ITERATIONS": "agent.max_iterations",
    "TALARIA_TOOLSETS": "toolsets",
}
_NESTED_ENV = re.compile(r"^TALARIA_([A-Z0-9_]+?)__([A-Z0-9_]+)$")


@dataclass(frozen=True)
class Settings:
    """Resolved configuration plus the environment it was resolved against."""

    config: Config
    paths: Paths
    env: Mapping[str, str] = field(default_factory=dict)
    """Merged ``.env`` and process environment; read-only, never exported."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each explicitly set key came from (``config.yaml``, ``env:NAME``, ``flag``)."""

    def redactor(self) -> Redactor:
        """Redacts every secret this configuration knows: secret-looking env vars and
        the API keys in config (primary and fallbacks)."""
        keys = [self.config.model.api_key or ""]
        keys += [fb.api_key or "" for fb in self.config.fallback_providers]
        aux = self.config.auxiliary
        for entry in (
            aux.default,
            aux.compression,
            aux.title,
            aux.web_extract,
            aux.vision,
            aux.session_search,
        ):
            if entry is not None:
                keys.append(entry.api_key or "")
                keys += [fb.api_key or "" for fb in entry.fallback]
        return Redactor.from_env(self.env, extra=keys)

    def origin(self, key: str) -> str:
        """Where ``key``'s value came from, for error messages (file, variable or flag)."""
        return _origin_for(key, str(self.paths.config_file), self.sources)

    @staticmethod
    def for_home(home: Path, env: Mapping[str, str] | None = None, /, **overrides: Any) -> Settings:
        """Settings for an isolated home directory (tests, embedding).

        ``overrides`` are dotted keys, e.g. ``for_home(p, **{"model.name": "x"})``.
        """
        env = dict(env or {})
        env["TALARIA_HOME"] = str(home)
        return load_settings(env=env, overrides=overrides, use_process_env=False)


def load_settings(
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    use_process_env: bool = True,
) -> Settings:
    """Build Settings: defaults ← config.yaml ← .env ← process env ← ``overrides``.

    ``overrides`` are dotted keys (``{"model.name": "x"}``) from CLI flags.
    """
    base_env: dict[str, str] = dict(os.environ) if use_process_env else {}
    if env:
        base_env.update(env)
    paths = Paths.from_env(base_env)
    merged_env = {**read_dotenv(paths.env_file), **base_env}

    data = read_config_file(paths.config_file)
    sources: dict[str, str] = {}
    for dotted in _flatten_keys(data):
        sources[dotted] = "config.yaml"

    for name, value in merged_env.items():
        env_dotted = env_key(name)
        if env_dotted is None:
            continue
        set_dotted(data, env_dotted, _coerce_env(env_dotted, value, name))
        sources[env_dotted] = f"env:{name}"
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        set_dotted(data, dotted, value)
        sources[dotted] = "flag"

    config = validate(data, origin=str(paths.config_file), sources=sources)
    return Settings(config=config, paths=paths, env=merged_env, sources=sources)


def env_key(name: str) -> str | None:
    """The dotted config key an environment variable overrides, if any."""
    if name in SHORT_ENV:
        return SHORT_ENV[name]
    if _NESTED_ENV.match(name) and name != "TALARIA_HOME":
        # TALARIA_AUXILIARY__TITLE__API_KEY → auxiliary.title.api_key (any depth)
        parts = name[len("TALARIA_") :].lower().split("__")
        if all(parts):
            return ".".join(parts)
    return None


def read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse config.yaml into plain data; a missing or empty file is ``{}``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", file=str(path)) from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"YAML syntax error at {where}{e.problem}", file=str(path)) from None
    except YAMLError as e:
        raise ConfigError(f"YAML syntax error: {e}", file=str(path)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the top level must be a mapping of keys", file=str(path), expected="mapping"
        )
    return data


def validate(
    data: Mapping[str, Any], *, origin: str, sources: Mapping[str, str] | None = None
) -> Config:
    """Convert plain data to :class:`Config`, translating msgspec errors for humans."""
    try:
        return msgspec.convert(data, Config, strict=False)
    except msgspec.ValidationError as e:
        raise _config_error(str(e), origin, sources or {}) from None


_MSG = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _config_error(text: str, origin: str, sources: Mapping[str, str]) -> ConfigError:
    m = _MSG.match(text)
    msg = m.group("msg") if m else text
    path = (m.group("path") or "") if m else ""
    key = path.lstrip(".")
    unknown = re.match(r"Object contains unknown field `([^`]+)`", msg)
    if unknown:
        name = unknown.group(1)
        parent = key
        key = f"{parent}.{name}" if parent else name
        allowed = _fields_at(parent)
        import difflib  # only on the error path: keeps start-up lean

        hint = difflib.get_close_matches(name, allowed, n=1)
        message = "unknown key" + (f"; did you mean '{_join(parent, hint[0])}'?" if hint else "")
        expected = "one of: " + ", ".join(allowed) if allowed else None
        return ConfigError(
            message, file=_origin_for(key, origin, sources), key=key, expected=expected
        )
    missing = re.match(r"Object missing required field `([^`]+)`", msg)
    if missing:
        key = _join(key, missing.group(1))
        return ConfigError(
            "required key is missing",
            file=_origin_for(key, origin, sources),
            key=key,
            expected=_type_at(key),
        )
    got = re.match(r"Expected `([^`]+)`, got `([^`]+)`", msg)
    if got:
        return ConfigError(
            f"wrong type (got {got.group(2)})",
            file=_origin_for(key, origin, sources),
            key=key,
            expected=_type_at(key) or got.group(1),
        )
    return ConfigError(
        msg, file=_origin_for(key, origin, sources), key=key or None, expected=_type_at(key)
    )


def _origin_for(key: str, origin: str, sources: Mapping[str, str]) -> str:
    probe = re.sub(r"\[\d+\].*$", "", key)
    while probe:
        src = sources.get(probe)
        if src and src.startswith("env:"):
            return f"environment variable {src[4:]}"
        if src == "flag":
            return "command-line flag"
        if src:
            return origin
        probe = probe.rpartition(".")[0]
    return origin


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def declared_type(key: str) -> Any:
    """The declared type at a dotted key (``[n]`` steps into list items)."""
    tp: Any = Config
    for part in filter(None, re.split(r"\.|(?=\[)", key)):
        tp = unwrap_optional(tp)
        if part.startswith("["):
            args = typing.get_args(tp)
            tp = args[0] if args else Any
            continue
        hints = typing.get_type_hints(tp) if isinstance(tp, type) else {}
        if part not in hints:
            return None
        tp = hints[part]
    return tp


def unwrap_optional(tp: Any) -> Any:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        non_none = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(non_none) == 1:
            return non_none[0]
    return tp


def _fields_at(key: str) -> list[str]:
    tp = unwrap_optional(declared_type(key))
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return list(tp.__struct_fields__)
    return []


def type_name(tp: Any) -> str:
    """A user-facing name for a declared type (``integer``, ``one of 'a', 'b'``…)."""
    if tp is None:
        return ""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, types.UnionType) or origin is typing.Union:
        parts = [type_name(a) for a in typing.get_args(tp) if a is not type(None)]
        text = " or ".join(parts)
        return text + " (or null)" if type(None) in typing.get_args(tp) else text
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return f"list of {type_name(item)}"
    if origin is dict:
        return "mapping"
    names = {int: "integer", float: "number", str: "string", bool: "boolean"}
    if tp in names:
        return names[tp]
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "mapping with keys: " + ", ".join(tp.__struct_fields__)
    return getattr(tp, "__name__", str(tp))


def _type_at(key: str) -> str | None:
    return type_name(declared_type(key)) or None


def _flatten_keys(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for k, v in data.items():
        dotted = f"{prefix}{k}"
        keys.append(dotted)
        if isinstance(v, Mapping):
            keys.extend(_flatten_keys(v, dotted + "."))
    return keys


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _coerce_env(dotted: str, value: str, var: str) -> Any:
    """Env values are strings; lists are comma-separated, the rest converted by msgspec."""
    tp = unwrap_optional(declared_type(dotted))
    if typing.get_origin(tp) is list:
        return [v.strip() for v in value.split(",") if v.strip()]
    if value == "" and tp is not str:
        return None
    return value


def get_dotted(config: Config, dotted: str) -> Any:
    """Read a dotted key from a Config; ``KeyError`` names the unknown part."""
    node: Any = config
    for part in dotted.split("."):
        if isinstance(node, msgspec.Struct) and part in node.__struct_fields__:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(dotted)
    return node
