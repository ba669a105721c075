"""Recognising and removing secrets before they reach a store, a log or a subprocess.

Two mechanisms, because neither alone is enough:

* by *name*: environment variables whose names look secret (``*_API_KEY``,
  ``*_TOKEN``, ``*PASSWORD*``…) are dropped from subprocess environments and
  their values are redacted wherever they appear;
* by *shape*: well-known credential formats (``sk-…``, ``ghp_…``, ``Bearer …``)
  are redacted even when nobody told us the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

_SECRET_NAME = re.compile(
    # anywhere in the name: these words are never innocent
    r"PASSWORD|PASSWD|SECRET|CREDENTIAL|APIKEY|API_KEY|PRIVATE_KEY|ACCESS_KEY"
    # as a whole word between underscores: KEY, TOKEN… are parts of innocent names too
    r"|(?:^|_)(?:KEY|TOKEN|PASS|PWD|AUTH|COOKIE|DSN|SIGNATURE)(?:$|_)",
    re.IGNORECASE,
)
# Names that match the pattern but hold no secret and that tools legitimately need.
_NOT_SECRET = frozenset(
    {"SSH_AUTH_SOCK", "GPG_AGENT_INFO", "KEYTIMEOUT", "GIT_ASKPASS", "PWD", "OLDPWD"}
)

_SECRET_SHAPES = re.compile(
    r"(?:"
    r"sk-(?:or-v1-|proj-|ant-(?:api\d+-)?)?[A-Za-z0-9_\-]{16,}"  # OpenAI / OpenRouter / Anthropic
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google API key
    r"|\d{6,12}:[A-Za-z0-9_\-]{30,}"  # Telegram bot token
    r"|(?<=Bearer )[A-Za-z0-9._\-~+/]{16,}=*"  # Authorization: Bearer …
    r")"
)

_MIN_SECRET_LEN = 8


def is_secret_name(name: str) -> bool:
    """True when an env var or config key name suggests it holds a credential."""
    if name.upper() in _NOT_SECRET:
        return False
    return bool(_SECRET_NAME.search(name))


def scrub_env(env: Mapping[str, str], passthrough: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``env`` without secret-looking variables (``passthrough`` names kept)."""
    keep = set(passthrough)
    return {k: v for k, v in env.items() if k in keep or not is_secret_name(k)}


class Redactor:
    """Replaces known secret values and secret-shaped strings with ``[REDACTED]``.

    Immutable once built, so one instance is safely shared by every run and thread.
    """

    __slots__ = ("_values_re",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        vals = sorted({v for v in values if v and len(v) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        self._values_re = re.compile("|".join(re.escape(v) for v in vals)) if vals else None

    @classmethod
    def from_env(cls, env: Mapping[str, str], extra: Iterable[str] = ()) -> Redactor:
        """Secrets are the values of every secret-looking variable, plus ``extra``."""
        values = [v for k, v in env.items() if is_secret_name(k)]
        values.extend(extra)
        return cls(values)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._values_re is not None:
            text = self._values_re.sub(REDACTED, text)
        return _SECRET_SHAPES.sub(REDACTED, text)


def fingerprint(secret: str | None) -> str:
    """A short, non-reversible tag for a secret (client-pool keys, diagnostics)."""
    if not secret:
        return "-"
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()[:12]
