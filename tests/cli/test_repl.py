"""The real REPL driven through a pseudo-terminal (pexpect), and in plain (piped) mode."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect
import pytest

from helpers.cli import cli_env, talaria
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import RecordedRequest, Reply

PROMPT = "›"


def _config(home: Path, extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        "quick_commands:\n"
        "  hi: {type: exec, command: 'echo quick-hello {args}'}\n"
        "  u: {type: alias, target: /usage}\n"
        "  broken: {type: nonsense}\n"
        "agent: {auto_title: false}\n" + extra
    )


def _spawn(home: Path, server: FakeLLMServer, *extra: str) -> pexpect.spawn[str]:
    # A pty has no terminal to answer cursor-position requests: tell prompt_toolkit.
    env = cli_env(
        home,
        {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "talaria", "--provider", "custom", "--base-url", server.base_url, *extra],
        env=env,
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 120),
    )
    return child


def _handler(req: RecordedRequest) -> Reply:
    text = req.last_user_text
    if text == "talk slowly":
        return Reply.say("slow " * 400, chunks=400, chunk_delay=0.05)
    return Reply.say(f"answer to {text}")


def test_repl_session_through_a_pty(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _config(home)
    with FakeLLMServer(_handler) as server:
        child = _spawn(home, server)
        try:
            # a bad quick-command entry is reported once at start-up, with its key path
            child.expect("quick_commands.broken")
            child.expect(PROMPT)
            child.sendline("what is up")
            child.expect("answer to what is up")
            child.expect(PROMPT)
            child.sendline("/help")
            child.expect("/usage")
            child.expect("quick-hello")  # quick commands are listed with what they run
            child.expect(PROMPT)
            child.sendline("/hi a; rm -rf x")
            child.expect("quick-hello a; rm -rf x")
            child.expect(PROMPT)
            child.sendline("/u")  # alias for /usage
            child.expect("this conversation:")
            child.expect(PROMPT)
            child.sendline("/nonsensical")
            child.expect("unknown command /nonsensical")
            child.expect(PROMPT)
            requests_before = len(server.requests)
            child.sendline("talk slowly")
            assert server.wait_for(lambda s: s.in_flight == 1, 10)
            child.expect("slow slow")  # (not the echo of "talk slowly")
            child.sendintr()  # Ctrl-C while the agent streams
            child.expect("interrupted")
            child.expect(PROMPT)
            assert server.wait_for(lambda s: s.in_flight == 0, 5)
            child.sendeof()  # Ctrl-D exits cleanly
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0
        # /help, /hi, /u and /nonsensical never reached the model
        assert len(server.requests) == requests_before + 1
        assert [r.last_user_text for r in server.requests] == ["what is up", "talk slowly"]
    listing = json.loads(talaria(["sessions", "list", "--json"], home).stdout)
    assert len(listing) == 1
    assert listing[0]["source"] == "cli"
    assert listing[0]["status"] == "interrupted"
    show = json.loads(talaria(["sessions", "show", listing[0]["id"], "--json"], home).stdout)
    last = show["messages"][-1]
    assert last["role"] == "assistant", show["messages"]
    assert last["content"].startswith("slow")  # partial kept


def test_ctrl_c_twice_at_empty_prompt_exits(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeLLMServer(_handler) as server:
        child = _spawn(home, server)
        try:
            child.expect(PROMPT)
            child.send("some text")
            child.expect("some text")
            child.sendintr()  # clears the line: the typed text is erased on screen
            child.expect_exact("\x1b[K")
            child.sendintr()
            child.expect("Ctrl-C again")
            child.sendintr()
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0
        assert server.requests == []


def test_continue_reopens_the_last_session(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("agent: {auto_title: false}\n")
    with FakeLLMServer(_handler) as server:
        proc = talaria(
            ["run", "remember pineapples", "--provider", "custom", "--base-url", server.base_url],
            home,
        )
        assert proc.returncode == 0
        child = _spawn(home, server, "--continue")
        try:
            child.expect("remember pineapples")  # the recap of the last exchanges
            child.expect(PROMPT)
            child.sendline("and now?")
            child.expect("answer to and now")
            child.expect(PROMPT)  # keys typed before the prompt is back may be dropped
            child.sendeof()
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0
        roles = [m["role"] for m in server.requests[-1].messages]
        assert roles == ["system", "user", "assistant", "user"]


def test_piped_stdin_runs_lines_without_chrome(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _config(home)
    with FakeLLMServer(_handler) as server:
        proc = talaria(
            ["--provider", "custom", "--base-url", server.base_url],
            home,
            stdin="first\n/hi there\n/quit\nnever sent\n",
        )
    assert proc.returncode == 0, proc.stderr
    assert "answer to first" in proc.stdout
    assert "quick-hello there" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no escape sequences when not a terminal
    assert "›" not in proc.stdout
    assert [r.last_user_text for r in server.requests] == ["first"]


@pytest.mark.parametrize("term", ["dumb"])
def test_dumb_terminal_gets_plain_output(tmp_path: Path, term: str) -> None:
    home = tmp_path / "home"
    with FakeLLMServer(_handler) as server:
        env = cli_env(home, {"TERM": term, "NO_COLOR": "1"})
        child = pexpect.spawn(
            sys.executable,
            ["-m", "talaria", "--provider", "custom", "--base-url", server.base_url],
            env=env,
            encoding="utf-8",
            timeout=20,
        )
        try:
            child.expect(PROMPT)
            child.sendline("plain please")
            child.expect("answer to plain please")
            child.expect(PROMPT)
            child.sendeof()
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0


def test_first_exchange_titles_the_session(tmp_path: Path) -> None:
    from talaria.agent.titles import TITLE_PROMPT

    def handler(req: RecordedRequest) -> Reply:
        if req.messages and req.messages[0].get("content") == TITLE_PROMPT:
            return Reply.say('"Planning the\u200b Garden."')  # sanitised before storing
        return Reply.say(f"answer to {req.last_user_text}")

    home = tmp_path / "home"
    with FakeLLMServer(handler) as server:
        proc = talaria(
            ["--provider", "custom", "--base-url", server.base_url],
            home,
            stdin="help me plan the garden\n",
        )
    assert proc.returncode == 0, proc.stderr
    assert "answer to help me plan the garden" in proc.stdout
    listing = json.loads(talaria(["sessions", "list", "--json"], home).stdout)
    assert listing[0]["title"] == "Planning the Garden"
    show = json.loads(talaria(["sessions", "show", listing[0]["id"], "--json"], home).stdout)
    assert show["aux_usage"]["title"]["calls"] == 1


def test_compress_command_splits_the_session(tmp_path: Path) -> None:
    from talaria.agent.compression import SUMMARISER_PROMPT

    def handler(req: RecordedRequest) -> Reply:
        if req.messages and req.messages[0].get("content") == SUMMARISER_PROMPT:
            return Reply.say("SUMMARY: three questions about fruit were answered")
        return Reply.say(f"answer to {req.last_user_text}")

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        "agent: {auto_title: false}\ncompression: {protect_last_n: 2}\n"
    )
    with FakeLLMServer(handler) as server:
        proc = talaria(
            ["--provider", "custom", "--base-url", server.base_url],
            home,
            stdin="apples?\npears?\nplums?\n/compress\nand cherries?\n",
        )
        last = server.requests[-1]
    assert proc.returncode == 0, proc.stderr
    assert "compressed 3 messages" in proc.stdout  # head: system + first; tail: last 2
    contents = [str(m.get("content")) for m in last.messages]
    assert contents[1] == "apples?"  # the first user message stays verbatim
    assert any("SUMMARY: three questions" in c for c in contents)
    assert "pears?" not in contents
    listing = json.loads(talaria(["sessions", "list", "--json"], home).stdout)
    assert len(listing) == 2
    newer, older = listing
    assert newer["parent_id"] == older["id"]
    assert older["end_reason"] == "compression"
    assert newer["status"] == "completed"
