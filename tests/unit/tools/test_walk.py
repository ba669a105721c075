"""Walking a tree with git's ignore rules."""

from __future__ import annotations

from pathlib import Path

from talaria.tools.builtin.walk import expand_braces, glob_matcher, iter_files


def make_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def listed(root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in iter_files(root)]


def test_sorted_walk_skips_dot_git_and_ignored_directories(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            ".git/HEAD": "ref",
            ".gitignore": "node_modules/\n/dist\n",
            "b.txt": "",
            "a/z.txt": "",
            "a/dist/kept.txt": "",  # `/dist` is anchored to the root
            "dist/gone.txt": "",
            "node_modules/pkg/index.js": "",
            "a/node_modules/pkg/index.js": "",
        },
    )
    # A directory's files come before its subdirectories, each sorted by name.
    assert listed(tmp_path) == [".gitignore", "b.txt", "a/z.txt", "a/dist/kept.txt"]


def test_deeper_rules_override_shallower_ones(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            ".gitignore": "*.log\n",
            "x.log": "",
            "logs/.gitignore": "!important.log\n",
            "logs/important.log": "",
            "logs/noise.log": "",
        },
    )
    assert listed(tmp_path) == [".gitignore", "logs/.gitignore", "logs/important.log"]


def test_info_exclude_applies_and_works_without_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_tree(repo, {".git/info/exclude": "secret.txt\n", "secret.txt": "", "ok.txt": ""})
    assert listed(repo) == ["ok.txt"]
    plain = tmp_path / "plain"
    make_tree(plain, {".gitignore": "tmp/\n", "tmp/x": "", "y": ""})
    assert listed(plain) == [".gitignore", "y"]


def test_brace_expansion_and_glob_matching() -> None:
    assert expand_braces("*.{ts,tsx}") == ["*.ts", "*.tsx"]
    assert expand_braces("{a,b{c,d}}.x") == ["a.x", "bc.x", "bd.x"]
    assert expand_braces("no{brace") == ["no{brace"]
    matcher = glob_matcher("src/**/*.{py,pyi}")
    assert matcher.match_file("src/a/b.pyi")
    assert not matcher.match_file("tests/a/b.py")
