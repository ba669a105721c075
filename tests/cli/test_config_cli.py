"""``talaria config``: show, get, set (comments kept, secrets to .env), path."""

from __future__ import annotations

import stat
from pathlib import Path

from helpers.cli import talaria


def test_path(tmp_path: Path) -> None:
    proc = talaria(["config", "path"], tmp_path)
    assert proc.stdout.strip() == str(tmp_path / "config.yaml")


def test_set_preserves_comments_and_order(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    original = (
        "# my talaria config\n"
        "model:\n"
        "  # the model I like\n"
        "  name: first  # inline note\n"
        "  provider: openrouter\n"
        "toolsets: [terminal, file]\n"
        "agent:\n"
        "  max_iterations: 5\n"
    )
    (tmp_path / "config.yaml").write_text(original)
    proc = talaria(["config", "set", "agent.max_iterations", "25"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = talaria(["config", "set", "terminal.timeout", "60"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "config.yaml").read_text()
    assert "# my talaria config" in text
    assert "# the model I like" in text
    assert "# inline note" in text
    assert "max_iterations: 25" in text
    assert (
        text.index("model:")
        < text.index("toolsets")
        < text.index("agent:")
        < text.index("terminal:")
    )
    got = talaria(["config", "get", "agent.max_iterations"], tmp_path)
    assert got.stdout.strip() == "25"
    got = talaria(["config", "get", "terminal.timeout"], tmp_path)
    assert got.stdout.strip() == "60.0"


def test_set_list_accepts_commas(tmp_path: Path) -> None:
    assert talaria(["config", "set", "toolsets", "file,web"], tmp_path).returncode == 0
    assert talaria(["config", "get", "toolsets"], tmp_path).stdout.split() == [
        "-",
        "file",
        "-",
        "web",
    ]


def test_set_rejects_wrong_type_and_writes_nothing(tmp_path: Path) -> None:
    proc = talaria(["config", "set", "agent.max_iterations", "lots"], tmp_path)
    assert proc.returncode == 2
    assert "agent.max_iterations" in proc.stderr and "integer" in proc.stderr
    assert not (tmp_path / "config.yaml").exists()


def test_set_unknown_key_suggests(tmp_path: Path) -> None:
    proc = talaria(["config", "set", "model.nmae", "x"], tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'model.name'" in proc.stderr


def test_secret_goes_to_dotenv_not_yaml(tmp_path: Path) -> None:
    secret = "sk-or-v1-" + "a" * 40
    proc = talaria(["config", "set", "model.api_key", secret], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "OPENROUTER_API_KEY" in proc.stdout
    assert secret not in proc.stdout
    env_file = tmp_path / ".env"
    assert f"OPENROUTER_API_KEY={secret}" in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert (
        not (tmp_path / "config.yaml").exists()
        or secret not in (tmp_path / "config.yaml").read_text()
    )
    # setting it again replaces the line instead of appending a duplicate
    talaria(["config", "set", "model.api_key", secret + "b"], tmp_path)
    assert (tmp_path / ".env").read_text().count("OPENROUTER_API_KEY=") == 1
    shown = talaria(["config", "show"], tmp_path)
    assert secret not in shown.stdout
    got = talaria(["config", "get", "model.api_key"], tmp_path)
    assert secret[:10] not in got.stdout


def test_show_marks_overrides(tmp_path: Path) -> None:
    proc = talaria(["config", "show"], tmp_path, env={"TALARIA_MODEL": "from-env"})
    assert proc.returncode == 0
    assert "name: from-env" in proc.stdout
    assert "model.name: env:TALARIA_MODEL" in proc.stdout


def test_get_unknown_key(tmp_path: Path) -> None:
    proc = talaria(["config", "get", "nope.key"], tmp_path)
    assert proc.returncode == 2
    assert "nope.key" in proc.stderr


def test_nested_secret_key_round_trips_through_dotenv(tmp_path: Path) -> None:
    secret = "sk-or-v1-" + "c" * 40
    proc = talaria(["config", "set", "auxiliary.title.api_key", secret], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "TALARIA_AUXILIARY__TITLE__API_KEY" in (tmp_path / ".env").read_text()
    # the stored key is read back (and masked), and every command still works
    shown = talaria(["config", "show"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert secret not in shown.stdout
    got = talaria(["config", "get", "auxiliary.title.api_key"], tmp_path)
    assert got.returncode == 0 and got.stdout.startswith("sk-o")
