"""Quick commands from config: validation, shadowing, alias expansion, cycles and depth."""

from __future__ import annotations

from typing import Any

import pytest

from talaria.commands.quick import (
    MAX_ALIAS_DEPTH,
    AliasCommand,
    ExecCommand,
    QuickCommand,
    QuickCommandError,
    QuickCommandProblem,
    describe,
    expand_alias,
    load_quick_commands,
)

BUILTINS = {"help", "h", "new", "reset", "model", "context", "stop", "quit"}

ISSUE_EXAMPLE: dict[str, Any] = {
    "gs": {"type": "exec", "command": "git status --short", "timeout": 10},
    "grep": {"type": "exec", "command": "grep -rn {args} .", "max_output": 4000},
    "sc": {"type": "alias", "target": "/context"},
    "m": {"type": "alias", "target": "/model openrouter/anthropic/claude-sonnet-4"},
}


def load(raw: Any) -> tuple[dict[str, QuickCommand], list[QuickCommandProblem]]:
    return load_quick_commands(raw, builtin_names=BUILTINS)


def keys(problems: list[QuickCommandProblem]) -> list[str]:
    return [p.key for p in problems]


def alias(target: str) -> dict[str, str]:
    return {"type": "alias", "target": target}


def expand(quick: dict[str, QuickCommand], name: str, args: str = "") -> str:
    cmd = quick[name]
    assert isinstance(cmd, AliasCommand)
    return expand_alias(cmd, args, quick)


# --- loading -------------------------------------------------------------------


def test_the_documented_example_loads_without_problems() -> None:
    quick, problems = load(ISSUE_EXAMPLE)
    assert problems == []
    assert quick == {
        "gs": ExecCommand("gs", "git status --short", timeout=10.0),
        "grep": ExecCommand("grep", "grep -rn {args} .", max_output=4000),
        "sc": AliasCommand("sc", "/context"),
        "m": AliasCommand("m", "/model openrouter/anthropic/claude-sonnet-4"),
    }
    gs = quick["gs"]
    assert isinstance(gs, ExecCommand) and gs.max_output == 8000
    grep = quick["grep"]
    assert isinstance(grep, ExecCommand) and grep.timeout == 30.0


def test_nothing_configured_is_not_a_problem() -> None:
    assert load(None) == ({}, [])
    assert load({}) == ({}, [])


def test_a_non_mapping_section_is_one_problem() -> None:
    quick, problems = load(["gs", "sc"])
    assert quick == {}
    assert keys(problems) == ["quick_commands"]


def test_invalid_entries_are_reported_with_their_key_and_the_rest_still_load() -> None:
    raw = {
        **ISSUE_EXAMPLE,
        "shell": {"type": "shell", "command": "ls"},
        "untyped": {"command": "ls"},
        "nocmd": {"type": "exec"},
        "blank": {"type": "exec", "command": "   "},
        "notarget": {"type": "alias"},
        "slow": {"type": "exec", "command": "ls", "timeout": "10"},
        "yes": {"type": "exec", "command": "ls", "timeout": True},
        "never": {"type": "exec", "command": "ls", "timeout": -1},
        "big": {"type": "exec", "command": "ls", "max_output": 10.5},
        "typo": {"type": "exec", "command": "ls", "timout": 5},
        "mixed": {"type": "alias", "target": "/context", "command": "ls"},
        "flat": "git status",
        "desc": {"type": "exec", "command": "ls", "description": 3},
    }
    quick, problems = load(raw)
    assert sorted(quick) == ["grep", "gs", "m", "sc"]
    assert keys(problems) == [
        "quick_commands.shell.type",
        "quick_commands.untyped.type",
        "quick_commands.nocmd.command",
        "quick_commands.blank.command",
        "quick_commands.notarget.target",
        "quick_commands.slow.timeout",
        "quick_commands.yes.timeout",
        "quick_commands.never.timeout",
        "quick_commands.big.max_output",
        "quick_commands.typo.timout",
        "quick_commands.mixed.command",
        "quick_commands.flat",
        "quick_commands.desc.description",
    ]
    by_key = {p.key: p.message for p in problems}
    assert "'shell' is unknown" in by_key["quick_commands.shell.type"]
    assert "missing" in by_key["quick_commands.untyped.type"]
    assert "'10'" in by_key["quick_commands.slow.timeout"]


def test_problems_name_their_source() -> None:
    _, problems = load_quick_commands(
        {"x": {"type": "nope"}}, builtin_names=(), source="/home/u/.talaria/config.yaml"
    )
    assert str(problems[0]) == (
        "/home/u/.talaria/config.yaml: quick_commands.x.type: 'nope' is unknown; use exec or alias"
    )


def test_names_must_look_like_command_words() -> None:
    raw = {"9lives": alias("/help"), "has space": alias("/help"), "a/b": alias("/help"), 7: {}}
    quick, problems = load(raw)
    assert quick == {}
    assert keys(problems) == [
        "quick_commands.9lives",
        "quick_commands.has space",
        "quick_commands.a/b",
        "quick_commands.7",
    ]


def test_names_are_case_insensitive_and_a_leading_slash_is_tolerated() -> None:
    quick, problems = load({"GS": {"type": "exec", "command": "ls"}, "/Sc": alias("context")})
    assert problems == []
    assert sorted(quick) == ["gs", "sc"]
    assert quick["sc"] == AliasCommand("sc", "/context")
    _, problems = load({"gs": {"type": "exec", "command": "ls"}, "GS": alias("/help")})
    assert keys(problems) == ["quick_commands.GS"]
    assert "twice" in problems[0].message


def test_shadowing_a_builtin_or_a_builtin_alias_is_refused() -> None:
    raw = {
        "help": alias("/context"),
        "H": alias("/context"),  # a built-in's alias, in another case
        "stop": {"type": "exec", "command": "kill -9 -1"},
        "ok": alias("/context"),
    }
    quick, problems = load(raw)
    assert sorted(quick) == ["ok"]
    assert keys(problems) == ["quick_commands.help", "quick_commands.H", "quick_commands.stop"]
    assert all("built-in" in p.message for p in problems)


def test_args_inside_quotes_or_here_documents_are_refused() -> None:
    raw = {
        "single": {"type": "exec", "command": "grep -rn '{args}' ."},
        "double": {"type": "exec", "command": 'echo "found: {args}"'},
        "heredoc": {"type": "exec", "command": "cat <<EOF\n{args}\nEOF"},
        "escaped": {"type": "exec", "command": "echo \\'{args} 'x'"},
        "herestring": {"type": "exec", "command": "cat <<< {args}"},
    }
    quick, problems = load(raw)
    assert sorted(quick) == ["escaped", "herestring"]
    assert keys(problems) == [
        "quick_commands.single.command",
        "quick_commands.double.command",
        "quick_commands.heredoc.command",
    ]
    assert "single quotes" in problems[0].message
    assert "double quotes" in problems[1].message


def test_describe_says_what_a_command_does() -> None:
    quick, _ = load({**ISSUE_EXAMPLE, "d": {**alias("/help"), "description": "Show help"}})
    assert describe(quick["gs"]) == "runs: git status --short"
    assert describe(quick["sc"]) == "alias for /context"
    assert describe(quick["m"]) == "alias for /model openrouter/anthropic/claude-sonnet-4"
    assert describe(quick["d"]) == "Show help"
    multi = ExecCommand("x", "cd src &&\n  make   all")
    assert describe(multi) == "runs: cd src && make all"


# --- aliases -------------------------------------------------------------------


def test_alias_appends_the_users_args_after_the_targets_own() -> None:
    quick, _ = load(ISSUE_EXAMPLE)
    assert expand(quick, "sc") == "/context"
    assert expand(quick, "sc", "  verbose ") == "/context verbose"
    assert expand(quick, "m", "--temp 0.2") == (
        "/model openrouter/anthropic/claude-sonnet-4 --temp 0.2"
    )


def test_alias_target_slash_is_optional_and_may_name_an_exec() -> None:
    raw = {"gs": {"type": "exec", "command": "git status"}, "g": alias("GS --short")}
    quick, problems = load(raw)
    assert problems == []
    assert expand(quick, "g", "src/") == "/gs --short src/"
    quick, problems = load({"t": alias("/model\tgpt-x  --fast"), "e": alias("  /")})
    assert expand(quick, "t") == "/model gpt-x  --fast"
    assert keys(problems) == ["quick_commands.e.target"]


def test_alias_to_alias_forwards_args_at_every_step() -> None:
    raw = {
        "m": alias("/model openrouter/x"),
        "mm": alias("/m --fast"),
        "mmm": alias("mm --cheap"),
    }
    quick, problems = load(raw)
    assert problems == []
    assert expand(quick, "mmm", "now") == "/model openrouter/x --fast --cheap now"


def test_alias_cycle_is_one_problem_naming_the_chain() -> None:
    raw = {
        **ISSUE_EXAMPLE,
        "a": alias("/b"),
        "b": alias("/c one"),
        "c": alias("a"),
        "self": alias("/self again"),
        "into": alias("/b"),
    }
    quick, problems = load(raw)
    assert sorted(quick) == ["grep", "gs", "m", "sc"]
    assert [str(p) for p in problems] == [
        "config.yaml: quick_commands.a.target: alias cycle /a → /b → /c → /a",
        "config.yaml: quick_commands.self.target: alias cycle /self → /self",
        "config.yaml: quick_commands.into.target: /b leads into the alias cycle /a → /b → /c → /a",
    ]


def test_a_chain_of_max_depth_works_and_one_more_is_a_problem() -> None:
    def chain(n: int) -> dict[str, Any]:
        # n aliases: a1 → a2 → … → an → /help
        return {f"a{i}": alias(f"/a{i + 1}" if i < n else "/help") for i in range(1, n + 1)}

    quick, problems = load(chain(MAX_ALIAS_DEPTH))
    assert problems == []
    assert expand(quick, "a1", "x") == "/help x"

    quick, problems = load(chain(MAX_ALIAS_DEPTH + 3))
    assert keys(problems) == ["quick_commands.a1.target"]
    assert f"deeper than {MAX_ALIAS_DEPTH}" in problems[0].message
    assert "dropped /a1, /a2, /a3" in problems[0].message
    assert sorted(quick, key=lambda n: int(n[1:])) == [f"a{i}" for i in range(4, 12)]


def test_alias_to_an_unknown_or_invalid_command_is_a_problem() -> None:
    raw = {
        "u": alias("/nothing"),
        "uu": alias("/u"),
        "bad": {"type": "exec"},
        "tb": alias("/bad"),
        "path": alias("/etc/hosts"),
        "ok": alias("/help"),
    }
    quick, problems = load(raw)
    assert sorted(quick) == ["ok"]
    by_key = {p.key: p.message for p in problems}
    assert by_key["quick_commands.u.target"] == "/nothing is not a built-in or quick command"
    assert "see quick_commands.u" in by_key["quick_commands.uu.target"]
    assert "invalid quick command" in by_key["quick_commands.tb.target"]
    assert "quick_commands.path.target" in by_key
    assert len(problems) == 5


def test_expand_alias_refuses_cycles_and_depth_on_hand_built_mappings() -> None:
    # load_quick_commands never produces these; expand_alias must still terminate.
    a, b = AliasCommand("a", "/b x"), AliasCommand("b", "/a y")
    with pytest.raises(QuickCommandError, match=r"alias cycle /a → /b → /a"):
        expand_alias(a, "", {"a": a, "b": b})
    deep: dict[str, QuickCommand] = {
        f"d{i}": AliasCommand(f"d{i}", f"/d{i + 1}") for i in range(MAX_ALIAS_DEPTH + 5)
    }
    first = deep["d0"]
    assert isinstance(first, AliasCommand)
    with pytest.raises(QuickCommandError, match="deeper than"):
        expand_alias(first, "", deep)
