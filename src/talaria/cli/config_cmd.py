"""``talaria config show|get|set|path``."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

from talaria.errors import ConfigError
from talaria.secrets import is_secret_name

EXIT_CONFIG = 2


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str) and value and is_secret_name(key):
        return value[:4] + "…" + f"({len(value)} chars, hidden)"
    return value


def _yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def main(args: argparse.Namespace) -> int:
    from talaria.paths import Paths

    action = args.config_command
    paths = Paths.from_env()
    if action == "path":
        print(paths.config_file)
        return 0
    try:
        if action == "set":
            from talaria.config_edit import set_value

            print(set_value(paths, args.key, args.value))
            return 0
        import msgspec

        from talaria.config import get_dotted, load_settings

        settings = load_settings()
        if action == "show":
            data = _mask(msgspec.to_builtins(settings.config))
            sys.stdout.write(_yaml(data))
            overridden = {k: v for k, v in settings.sources.items() if v != "config.yaml"}
            if overridden:
                print("# overridden by the environment or flags:")
                for k, v in sorted(overridden.items()):
                    print(f"#   {k}: {v}")
            return 0
        if action == "get":
            try:
                value = get_dotted(settings.config, args.key)
            except KeyError:
                raise ConfigError("unknown key", key=args.key) from None
            value = _mask(msgspec.to_builtins(value), args.key.rsplit(".", 1)[-1])
            if isinstance(value, dict | list):
                sys.stdout.write(_yaml(value))
            else:
                print("null" if value is None else value)
            return 0
    except ConfigError as e:
        print(f"talaria: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    raise AssertionError(f"unhandled config action {action}")
