"""``talaria doctor`` through a real process: what it prints, exit codes, ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import talaria
from talaria.config import Settings
from talaria.store.base import NewSession
from talaria.store.sqlite import open_store

CONFIG = """\
model:
  provider: custom
  base_url: http://127.0.0.1:9/v1
  name: main-model
auxiliary:
  default: {provider: openrouter, model: google/gemini-3-flash}
  title: {provider: openai, model: gpt-4o-mini, timeout: 15}
  vision: {model: local-vision, api_key: sk-vision-secret}
  compression: {timeout: 120}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    (h / "config.yaml").write_text(CONFIG)
    return h


def _block(text: str, task: str) -> str:
    """The lines of one task's block in the "Auxiliary tasks" section."""
    section = text.split("\nAuxiliary tasks\n", 1)[1].split("\n\n", 1)[0]
    lines = section.splitlines()
    start = lines.index(f"  {task}")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), None)
    return "\n".join(lines[start:end])


def _field(block: str, name: str) -> str:
    for line in block.splitlines():
        if line.strip().startswith(name + " "):
            return line.strip()[len(name) :].strip()
    raise AssertionError(f"no {name!r} line in:\n{block}")


def test_doctor_names_every_tasks_endpoint_source_and_missing_keys(home: Path) -> None:
    proc = talaria(["doctor"], home)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # keys are missing
    out = proc.stdout
    assert f"config      {home / 'config.yaml'} (found)" in out
    expected = {
        # task: (provider, base_url, model, from, timeout, key)
        "title": (
            "openai",
            "https://api.openai.com/v1",
            "gpt-4o-mini",
            "auxiliary.title",
            "15s",
            "missing — set OPENAI_API_KEY",
        ),
        "compression": (
            "openrouter",
            "https://openrouter.ai/api/v1",
            "google/gemini-3-flash",
            "auxiliary.default",
            "120s",
            "missing — set OPENROUTER_API_KEY",
        ),
        "web_extract": (
            "openrouter",
            "https://openrouter.ai/api/v1",
            "google/gemini-3-flash",
            "auxiliary.default",
            "60s",
            "missing — set OPENROUTER_API_KEY",
        ),
        "vision": (
            "custom",
            "http://127.0.0.1:9/v1",
            "local-vision",
            "auxiliary.vision",
            "60s",
            "present (auxiliary.vision.api_key)",
        ),
    }
    for task, (provider, base_url, model, source, timeout, key) in expected.items():
        block = _block(out, task)
        assert _field(block, "provider") == provider, block
        assert _field(block, "base_url") == base_url, block
        assert _field(block, "model") == model, block
        assert _field(block, "from") == source, block
        assert _field(block, "timeout") == timeout, block
        assert _field(block, "key") == key, block
    assert "missing API key for openai (OPENAI_API_KEY), needed by title" in out
    assert "needed by compression, web_extract, session_search" in out
    assert "sk-vision-secret" not in out + proc.stderr


def test_doctor_exits_0_when_every_key_is_present(home: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-oa-secret", "OPENROUTER_API_KEY": "sk-or-secret"}
    proc = talaria(["doctor"], home, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _field(_block(proc.stdout, "title"), "key") == "present (OPENAI_API_KEY)"
    assert _field(_block(proc.stdout, "compression"), "key") == "present (OPENROUTER_API_KEY)"
    assert "✓ every endpoint has the key it needs" in proc.stdout
    assert "sk-oa-secret" not in proc.stdout and "sk-or-secret" not in proc.stdout


def test_doctor_json_is_machine_readable_and_secret_free(home: Path) -> None:
    proc = talaria(["doctor", "--json"], home, env={"OPENROUTER_API_KEY": "sk-or-secret"})
    assert proc.returncode == 1  # OPENAI_API_KEY is still missing
    data = json.loads(proc.stdout)
    assert data["ok"] is False and data["config_errors"] == []
    assert data["model"]["base_url"] == "http://127.0.0.1:9/v1"
    assert data["model"]["key_required"] is False
    title = data["auxiliary"]["title"]
    assert (title["provider"], title["model"], title["source"]) == (
        "openai",
        "gpt-4o-mini",
        "auxiliary.title",
    )
    assert (title["key_present"], title["key_source"]) == (False, "OPENAI_API_KEY")
    assert data["auxiliary"]["session_search"]["key_present"] is True
    assert list(data["auxiliary"]) == [
        "compression",
        "title",
        "web_extract",
        "vision",
        "session_search",
    ]
    assert len(data["problems"]) == 1 and "OPENAI_API_KEY" in data["problems"][0]
    assert data["store"] == {"path": str(home / "state.db"), "exists": False}
    assert "sk-or-secret" not in proc.stdout and "sk-vision-secret" not in proc.stdout


def test_doctor_shows_store_stats_without_creating_a_store(home: Path) -> None:
    data = json.loads(talaria(["doctor", "--json"], home).stdout)
    assert data["store"]["exists"] is False and not (home / "state.db").exists()
    store = open_store(Settings.for_home(home))
    for _ in range(3):
        store.create_session(NewSession(source="cli", model="m"))
    store.close()
    proc = talaria(["doctor"], home)
    assert "  stats       3 sessions, 0 messages, " in proc.stdout
    assert json.loads(talaria(["doctor", "--json"], home).stdout)["store"]["sessions"] == 3


def test_doctor_exits_2_on_configuration_errors(home: Path) -> None:
    (home / "config.yaml").write_text("auxiliary:\n  titel: {model: x}\n")
    proc = talaria(["doctor"], home)
    assert proc.returncode == 2
    assert "auxiliary.titel" in proc.stderr and "did you mean 'auxiliary.title'" in proc.stderr
    # An entry that validates but cannot be resolved: reported, everything else still shown.
    (home / "config.yaml").write_text("auxiliary:\n  title: {provider: custom, model: x}\n")
    proc = talaria(["doctor"], home, env={"OPENROUTER_API_KEY": "k"})
    assert proc.returncode == 2
    assert "auxiliary.title.base_url" in proc.stdout
    assert _field(_block(proc.stdout, "compression"), "from").startswith("main model")
