"""Time from launching ``talaria`` (no arguments) to an interactive prompt.

Spawns the REPL in a pseudo-terminal N times and measures until the prompt
character is drawn, next to a pty-spawned ``python -c 'print("›")'`` as the
floor measured in the same run.

    uv run python bench/repl_startup.py [-n 15]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pexpect


def time_to_prompt(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, encoding="utf-8", timeout=10)
    child.expect("›")
    elapsed = time.perf_counter() - start
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    src = Path(__file__).resolve().parent.parent / "src"
    for path in (src, Path(sysconfig.get_paths()["purelib"])):
        compileall.compile_dir(str(path), quiet=1, workers=2)
    home = tempfile.mkdtemp(prefix="talaria-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALARIA_")}
    env.update(TALARIA_HOME=home, TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1")
    talaria = str(Path(sys.executable).parent / "talaria")
    rows = [
        ("python prints the prompt char", [sys.executable, "-c", "print('›')"]),
        ("talaria (REPL) to prompt", [talaria]),
    ]
    for _, cmd in rows:  # warm caches
        time_to_prompt(cmd, env)
    results = []
    for label, cmd in rows:
        times = [time_to_prompt(cmd, env) for _ in range(args.n)]
        results.append((label, statistics.median(times), min(times)))
    for label, med, best in results:
        print(f"{label:32} median {med * 1000:6.1f} ms   best {best * 1000:6.1f} ms")
    print(f"(n={args.n}; target: talaria to prompt < 300 ms)")


if __name__ == "__main__":
    main()
