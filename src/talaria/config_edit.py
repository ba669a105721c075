"""Editing config.yaml and .env in place, for ``talaria config set``.

config.yaml is edited with ruamel.yaml's round-trip mode so comments and key
order survive; the new value is validated against the schema *before* anything
is written, and the file is replaced atomically.  Secret-looking keys never go
to config.yaml: they are written to ``.env`` (mode 0600) under the environment
variable the loader reads them from.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import typing
from pathlib import Path
from typing import Any

from talaria.config import (
    declared_type,
    read_config_file,
    set_dotted,
    type_name,
    unwrap_optional,
    validate,
)
from talaria.errors import ConfigError
from talaria.paths import Paths
from talaria.secrets import is_secret_name


def secret_env_var(key: str, data: dict[str, Any]) -> str:
    """The environment variable a secret config key is stored under."""
    from talaria.providers.presets import PRESETS

    if key == "model.api_key":
        provider = (data.get("model") or {}).get("provider", "openrouter")
        preset = PRESETS.get(str(provider))
        if preset is not None:
            return preset.key_env
    return "TALARIA_" + key.upper().replace(".", "__")


def parse_value(key: str, raw: str) -> Any:
    """Interpret VALUE as YAML, with ``a,b`` accepted for list-typed keys."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    declared = declared_type(key)
    if declared is None:
        return raw  # unknown key: validation below reports it with suggestions
    tp = unwrap_optional(declared)
    if typing.get_origin(tp) is list and not raw.lstrip().startswith("["):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if tp is str:
        return raw
    try:
        return YAML(typ="safe", pure=True).load(raw)
    except YAMLError:
        return raw


def set_value(paths: Paths, key: str, raw: str) -> str:
    """Validate and write ``key``; returns a sentence saying where it went."""
    current = read_config_file(paths.config_file)
    if declared_type(key) is None:
        trial: dict[str, Any] = {}
        set_dotted(trial, key, raw)
        validate(trial, origin=str(paths.config_file))  # raises with a suggestion
        raise ConfigError("unknown key", file=str(paths.config_file), key=key)
    value = parse_value(key, raw)
    last = key.rsplit(".", 1)[-1]
    if is_secret_name(last):
        var = secret_env_var(key, current)
        paths.ensure_home()
        _write_env_var(paths.env_file, var, str(value))
        return (
            f"stored {key} in {paths.env_file} as {var} (secrets are never written to config.yaml)"
        )
    trial = _deep_copy(current)
    set_dotted(trial, key, value)
    try:
        validate(trial, origin=str(paths.config_file))
    except ConfigError as e:
        if e.key == key or e.key is None:
            raise ConfigError(
                f"cannot set to {raw!r}",
                file="talaria config set",
                key=key,
                expected=type_name(declared_type(key)),
            ) from None
        raise
    paths.ensure_home()
    _write_yaml_value(paths.config_file, key, value)
    return f"set {key} = {value!r} in {paths.config_file}"


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(data)


def _write_yaml_value(path: Path, key: str, value: Any) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()  # round-trip: keeps comments, order and quoting
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = yaml.load(text) if text.strip() else None
    if doc is None:
        doc = CommentedMap()
    node = doc
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = CommentedMap()
            node[part] = child
        node = child
    node[parts[-1]] = value
    buf = io.StringIO()
    yaml.dump(doc, buf)
    _atomic_write(path, buf.getvalue(), mode=0o600)


def _write_env_var(path: Path, name: str, value: str) -> None:
    """Set NAME=value in .env, replacing an existing line, keeping everything else."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    quoted = (
        "'" + value.replace("'", "'\"'\"'") + "'" if any(c in value for c in " #'\"$\\") else value
    )
    new_line = f"{name}={quoted}"
    out: list[str] = []
    replaced = False
    for line in lines:
        stripped = line.strip()
        bare = stripped[7:].lstrip() if stripped.startswith("export ") else stripped
        if bare.split("=", 1)[0].strip() == name and "=" in bare:
            if not replaced:
                out.append(new_line)
                replaced = True
            continue
        out.append(line)
    if not replaced:
        out.append(new_line)
    _atomic_write(path, "\n".join(out) + "\n", mode=0o600)


def _atomic_write(path: Path, text: str, *, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
