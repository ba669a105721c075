"""Settings precedence and config errors that name file, key and expected type."""

from __future__ import annotations

from pathlib import Path

import pytest

from talaria.config import Settings, load_settings
from talaria.errors import ConfigError


def _home(tmp_path: Path, yaml: str = "", dotenv: str = "") -> Path:
    home = tmp_path / "home"
    home.mkdir()
    if yaml:
        (home / "config.yaml").write_text(yaml)
    if dotenv:
        (home / ".env").write_text(dotenv)
    return home


def test_defaults_without_any_file(tmp_path: Path) -> None:
    s = Settings.for_home(tmp_path / "nothing-here")
    assert s.config.model.provider == "openrouter"
    assert s.config.agent.max_iterations == 90
    assert s.config.toolsets == ["terminal", "file", "web", "todo", "session_search"]
    assert s.sources == {}


def test_precedence_defaults_file_dotenv_env_flags(tmp_path: Path) -> None:
    home = _home(
        tmp_path,
        yaml="model:\n  name: from-file\n  provider: openai\nagent:\n  max_iterations: 10\n"
        "terminal:\n  timeout: 5\n",
        dotenv="TALARIA_MODEL=from-dotenv\nTALARIA_AGENT__MAX_ITERATIONS=20\n",
    )
    env = {"TALARIA_HOME": str(home), "TALARIA_AGENT__MAX_ITERATIONS": "30"}
    s = load_settings(env=env, use_process_env=False, overrides={"model.name": "from-flag"})
    assert s.config.model.name == "from-flag"  # flag beats everything
    assert s.config.agent.max_iterations == 30  # process env beats .env beats file
    assert s.config.terminal.timeout == 5.0  # file beats default
    assert s.config.model.provider == "openai"
    assert s.sources["model.name"] == "flag"
    assert s.sources["agent.max_iterations"] == "env:TALARIA_AGENT__MAX_ITERATIONS"
    assert s.sources["terminal.timeout"] == "config.yaml"


def test_dotenv_alone_overrides_file(tmp_path: Path) -> None:
    home = _home(tmp_path, yaml="model:\n  name: file\n", dotenv="TALARIA_MODEL=dotenv\n")
    s = load_settings(env={"TALARIA_HOME": str(home)}, use_process_env=False)
    assert s.config.model.name == "dotenv"
    assert s.env["TALARIA_MODEL"] == "dotenv"


def test_settings_never_write_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    home = _home(tmp_path, dotenv="OPENROUTER_API_KEY=sk-or-v1-dotenv-secret\nFOO=bar\n")
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    before = dict(os.environ)
    s = load_settings(env={"TALARIA_HOME": str(home)})
    assert s.env["OPENROUTER_API_KEY"] == "sk-or-v1-dotenv-secret"
    assert dict(os.environ) == before


def test_list_env_var_is_comma_separated(tmp_path: Path) -> None:
    s = Settings.for_home(tmp_path, {"TALARIA_TOOLSETS": "file, web"})
    assert s.config.toolsets == ["file", "web"]


@pytest.mark.parametrize(
    ("yaml", "key", "expected_fragment"),
    [
        ("agent:\n  max_iterations: many\n", "agent.max_iterations", "integer"),
        ("model:\n  provider: acme\n", "model.provider", "'openrouter'"),
        ("terminal:\n  timeout: [1]\n", "terminal.timeout", "number"),
        ("model:\n  nmae: x\n", "model.nmae", "one of: name"),
        ("colour: red\n", "colour", "one of: model"),
        ("fallback_providers:\n  - provider: openai\n", "fallback_providers[0].model", "string"),
        ("toolsets: terminal\n", "toolsets", "list of string"),
    ],
)
def test_config_errors_name_file_key_and_type(
    tmp_path: Path, yaml: str, key: str, expected_fragment: str
) -> None:
    home = _home(tmp_path, yaml=yaml)
    with pytest.raises(ConfigError) as info:
        Settings.for_home(home)
    err = info.value
    assert err.file == str(home / "config.yaml")
    assert err.key == key
    assert err.expected is not None and expected_fragment in err.expected
    assert str(home / "config.yaml") in str(err) and key in str(err)


def test_yaml_syntax_error_has_line_number(tmp_path: Path) -> None:
    home = _home(tmp_path, yaml="model:\n  name: ok\n  provider: [\n")
    with pytest.raises(ConfigError) as info:
        Settings.for_home(home)
    assert "YAML syntax error" in str(info.value)
    assert "line" in str(info.value)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    home = _home(tmp_path, yaml="- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        Settings.for_home(home)


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.for_home(tmp_path, {"TALARIA_MAX_ITERATIONS": "lots"})
    assert info.value.file == "environment variable TALARIA_MAX_ITERATIONS"
    assert info.value.key == "agent.max_iterations"


def test_unrelated_env_vars_are_ignored(tmp_path: Path) -> None:
    s = Settings.for_home(tmp_path, {"TALARIA_NOT_A_KEY": "1", "TALARIA_HOME2": "x"})
    assert s.config.agent.max_iterations == 90
