"""``talaria run`` end to end: a real process against the loopback fake server."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from helpers.cli import spawn, talaria
from helpers.procs import group_alive, read_pid, wait_until
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _flags(server: FakeLLMServer) -> list[str]:
    return ["--provider", "custom", "--base-url", server.base_url, "--model", "fake-model"]


def test_run_streams_answer_to_stdout(home: Path) -> None:
    with FakeLLMServer([Reply.say("The sky is blue.")]) as server:
        proc = talaria(["run", "why is the sky blue?", *_flags(server)], home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "The sky is blue.\n"
    assert "Traceback" not in proc.stderr
    req = server.requests[0]
    assert req.model == "fake-model"
    assert req.stream is True
    assert req.last_user_text == "why is the sky blue?"


def test_run_json_prints_one_object(home: Path, tmp_path: Path) -> None:
    script = [
        Reply.call("terminal", {"command": "echo from-the-tool"}),
        Reply.say("Done: from-the-tool", usage=(100, 20)),
    ]
    with FakeLLMServer(script) as server:
        proc = talaria(["run", "go", "--json", *_flags(server)], home, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["final"] == "Done: from-the-tool"
    assert data["status"] == "completed"
    assert data["error"] is None
    assert "session_id" in data
    assert data["usage"]["input_tokens"] >= 100 and data["usage"]["output_tokens"] >= 20
    assert set(data["usage"]) == {"input_tokens", "output_tokens", "cost_usd"}
    assert "terminal" in proc.stderr  # tool activity goes to stderr, never stdout


def test_run_reads_prompt_from_stdin(home: Path) -> None:
    with FakeLLMServer() as server:  # echo
        proc = talaria(["run", "-", *_flags(server)], home, stdin="piped question\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "echo: piped question"


def test_failed_run_exits_1_with_reason(home: Path) -> None:
    with FakeLLMServer([Reply.fail(400, "this model does not exist")]) as server:
        proc = talaria(["run", "hi", *_flags(server)], home)
    assert proc.returncode == 1
    assert "this model does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigint_interrupts_tools_and_exits_130(home: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = [
        Reply.call("terminal", {"command": f"echo $$ > {pidfile}; sleep 60"}),
        Reply.say("never"),
    ]
    with FakeLLMServer(script) as server:
        proc = spawn(["run", "sleep please", "--json", *_flags(server)], home, cwd=tmp_path)
        try:
            pgid = read_pid(pidfile, timeout=30)
            assert group_alive(pgid)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert not group_alive(pgid)
        data = json.loads(out.strip().splitlines()[-1])
        assert data["status"] == "interrupted"
        assert len(server.requests) == 1
        assert server.in_flight == 0


def test_sigint_during_streaming_closes_the_request(home: Path) -> None:
    slow = Reply.say("tick " * 500, chunks=500, chunk_delay=0.02)
    with FakeLLMServer([slow]) as server:
        proc = spawn(["run", "talk", *_flags(server)], home)
        try:
            assert server.wait_for(lambda s: s.in_flight == 1, 30)
            assert proc.stdout is not None
            first = proc.stdout.read(5)  # the answer is streaming
            assert first.startswith("tick")
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130
        assert server.wait_for(lambda s: s.in_flight == 0, 5)
        assert server.cancelled == 1
        assert len((first + out).split()) < 500


def test_bad_config_exits_2_naming_file_and_key(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("agent:\n  max_iterations: many\n")
    proc = talaria(["run", "hi"], home)
    assert proc.returncode == 2
    assert str(home / "config.yaml") in proc.stderr
    assert "agent.max_iterations" in proc.stderr
    assert "integer" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("model:\n  nmae: x\n", "did you mean 'model.name'"),
        ("model: [unclosed\n", "YAML syntax error"),
        ("toolsets: [terminal, nope]\n", "nope"),
    ],
)
def test_other_config_errors_exit_2(home: Path, content: str, needle: str) -> None:
    home.mkdir(parents=True)
    (home / "config.yaml").write_text(content)
    proc = talaria(
        ["run", "hi", "--provider", "custom", "--base-url", "http://127.0.0.1:9/v1"], home
    )
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_api_key_names_the_variable(home: Path) -> None:
    proc = talaria(["run", "hi", "--provider", "openrouter"], home)
    assert proc.returncode == 2
    assert "OPENROUTER_API_KEY" in proc.stderr
    assert str(home / ".env") in proc.stderr


def test_rejected_key_names_the_variable(home: Path) -> None:
    with FakeLLMServer([Reply.fail(401, "invalid api key")]) as server:
        proc = talaria(
            ["run", "hi", "--provider", "openai", "--base-url", server.base_url],
            home,
            env={"OPENAI_API_KEY": "sk-wrong-key-0000000000"},
        )
    assert proc.returncode == 1
    assert "OPENAI_API_KEY" in proc.stderr
    assert "sk-wrong-key" not in proc.stderr + proc.stdout
    assert server.requests[0].headers["authorization"] == "Bearer sk-wrong-key-0000000000"


def test_fallback_provider_answers_when_primary_is_down(home: Path) -> None:
    with (
        FakeLLMServer([Reply.fail(503, "down")] * 10) as primary,
        FakeLLMServer([Reply.say("backup here")]) as backup,
    ):
        home.mkdir(parents=True)
        (home / "config.yaml").write_text(
            "retry:\n  max_retries: 1\n  base_delay: 0.01\n"
            "fallback_providers:\n"
            f"  - {{provider: custom, model: backup-model, base_url: '{backup.base_url}'}}\n"
        )
        proc = talaria(["run", "hi", *_flags(primary)], home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "backup here"
    assert "falling back" in proc.stderr
    assert len(primary.requests) == 2
    assert backup.requests[0].model == "backup-model"


def test_toolsets_flag_limits_tools(home: Path) -> None:
    def handler(req: RecordedRequest) -> Reply:
        return Reply.say(",".join(sorted(req.tool_names)))

    with FakeLLMServer(handler) as server:
        proc = talaria(["run", "x", "--toolsets", "file,todo", *_flags(server)], home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "patch,read_file,search_files,todo,write_file"


def test_help_is_fast_path_and_lists_commands(home: Path) -> None:
    proc = talaria(["--help"], home)
    assert proc.returncode == 0
    assert "run" in proc.stdout and "config" in proc.stdout


def test_no_stdout_pollution_with_closed_pipe(home: Path) -> None:
    # `talaria run ... | head -c1` must not print a traceback when the pipe closes
    import subprocess
    import sys

    with FakeLLMServer([Reply.say("x" * 200000, chunks=400)]) as server:
        from helpers.cli import cli_env

        cmd = f"{sys.executable} -m talaria run hi " + " ".join(_flags(server)) + " | head -c 10"
        proc = subprocess.run(
            ["bash", "-c", cmd], capture_output=True, text=True, env=cli_env(home), timeout=60
        )
    assert proc.stdout == "x" * 10
    assert "Traceback" not in proc.stderr
    assert wait_until(lambda: True, 0)
