"""Start-up cost of the CLI: ``talaria --help`` and a trivial one-shot run.

Each command runs N times as a fresh process; we report the median and best wall
time and the peak RSS of the child (from ``wait4``), next to ``python -c pass``
measured in the same run as the floor.  The trivial run talks to the loopback
fake server (zero latency), so it measures Talaria, not a model.

    uv run python bench/startup.py [-n 15]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from talaria.testing.fake_server import FakeLLMServer


def measure(cmd: list[str], env: dict[str, str], n: int) -> tuple[float, float, float]:
    """(median wall s, best wall s, max peak RSS MiB) over ``n`` runs.

    Wall time is taken around a direct child.  Peak RSS comes from a separate run
    under ``/usr/bin/time``: a forked child's own ``ru_maxrss`` would include the
    pages it shared with this (larger) benchmark process before ``exec``.
    """
    walls: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} exited {proc.returncode}: {proc.stderr.decode()}")
    rss = float("nan")
    if Path("/usr/bin/time").exists():
        with tempfile.NamedTemporaryFile("r") as out:
            subprocess.run(
                ["/usr/bin/time", "-f", "%M", "-o", out.name, *cmd],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            rss = int(out.read().split()[-1]) / 1024
    return statistics.median(walls), min(walls), rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    # Byte-compile our sources and the dependencies as a normal first run would leave
    # them: this machine sets PYTHONDONTWRITEBYTECODE, under which Python never caches
    # .pyc files and every start would pay for compiling ~300 modules.
    src = Path(__file__).resolve().parent.parent / "src"
    site = Path(sysconfig.get_paths()["purelib"])
    for path in (src, site):
        compileall.compile_dir(str(path), quiet=1, workers=2)
    bin_dir = Path(sys.executable).parent
    talaria = str(bin_dir / "talaria")
    home = tempfile.mkdtemp(prefix="talaria-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALARIA_")}
    env["TALARIA_HOME"] = home
    with FakeLLMServer() as server:
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("talaria --help", [talaria, "--help"]),
            (
                "talaria run (trivial, loopback)",
                [talaria, "run", "hi", "--provider", "custom", "--base-url", server.base_url],
            ),
            (
                "talaria run --json",
                [
                    talaria,
                    "run",
                    "hi",
                    "--json",
                    "--provider",
                    "custom",
                    "--base-url",
                    server.base_url,
                ],
            ),
        ]
        # warm the OS page cache and .pyc files once
        for _, cmd in rows:
            measure(cmd, env, 1)
        results = [(label, *measure(cmd, env, args.n)) for label, cmd in rows]
    base = results[0][1]
    print(f"{'command':34} {'median':>9} {'best':>9} {'x python':>9} {'peak RSS':>10}")
    for label, med, best, rss in results:
        print(
            f"{label:34} {med * 1000:7.1f}ms {best * 1000:7.1f}ms {med / base:8.1f}x {rss:7.1f}MiB"
        )
    print(f"(n={args.n} runs each; targets: --help < 150 ms, trivial run < 400 ms)")


if __name__ == "__main__":
    main()
