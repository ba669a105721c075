"""Where Talaria keeps its files: ``TALARIA_HOME`` (default ``~/.talaria``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Paths:
    home: Path

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        raw = env.get("TALARIA_HOME")
        home = Path(raw).expanduser() if raw else Path.home() / ".talaria"
        return Paths(home=home)

    @property
    def config_file(self) -> Path:
        return self.home / "config.yaml"

    @property
    def env_file(self) -> Path:
        return self.home / ".env"

    @property
    def state_db(self) -> Path:
        return self.home / "state.db"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def ensure_home(self) -> Path:
        """Create the home directory (private to the user) if it does not exist."""
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.home
