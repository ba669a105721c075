"""Secret detection, environment scrubbing and redaction."""

from __future__ import annotations

import pytest

from talaria.secrets import REDACTED, Redactor, is_secret_name, scrub_env


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "OPENROUTER_API_KEY",
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "PGPASSWORD",
        "MYSQL_PWD",
        "CLIENT_SECRET",
        "HONCHO_API_KEY",
        "TELEGRAM_BOT_TOKEN",
        "MY_PRIVATE_KEY",
        "SENTRY_DSN",
        "api_key",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "HOME",
        "SSH_AUTH_SOCK",
        "KEYBOARD",
        "MONKEY",
        "LANG",
        "TERM",
        "PASSTHROUGH",
        "PWD",
        "OLDPWD",
        "TOKENIZERS_PARALLELISM",
    ],
)
def test_non_secret_names(name: str) -> None:
    assert not is_secret_name(name)


def test_scrub_env_drops_secrets_and_keeps_passthrough() -> None:
    env = {"PATH": "/bin", "OPENAI_API_KEY": "sk-x", "GITHUB_TOKEN": "t", "HOME": "/root"}
    assert scrub_env(env) == {"PATH": "/bin", "HOME": "/root"}
    assert scrub_env(env, passthrough=["GITHUB_TOKEN"]) == {
        "PATH": "/bin",
        "HOME": "/root",
        "GITHUB_TOKEN": "t",
    }


def test_redactor_removes_known_values_and_shapes() -> None:
    r = Redactor.from_env({"MY_SERVICE_TOKEN": "tok-1234567890", "PATH": "/usr/bin"})
    text = (
        "token=tok-1234567890 path=/usr/bin "
        "openai=sk-proj-abcdefghijklmnopqrstuvwx "
        "gh=ghp_abcdefghijklmnopqrstuvwxyz0123 "
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345"
    )
    out = r(text)
    assert "tok-1234567890" not in out
    assert "/usr/bin" in out  # not a secret
    assert "sk-proj-" not in out
    assert "ghp_" not in out
    assert "abcdefghijklmnopqrstuvwxyz012345" not in out
    assert out.count(REDACTED) == 4


def test_short_values_are_not_treated_as_secrets() -> None:
    # a 3-character "password" would redact every occurrence of common words
    r = Redactor.from_env({"DB_PASS": "abc"})
    assert r("abc def") == "abc def"
