"""``talaria demo``: six real subagents, a scripted model that says so, a stored session."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import talaria


def test_demo_fans_out_to_six_children_and_records_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = talaria(["demo", "--latency", "0.05"], home, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "SCRIPTED" in proc.stderr  # it says clearly that the model is a script
    assert "children: 6" in proc.stderr
    assert "All six subagents reported back" in proc.stdout
    assert proc.stdout.count("[completed]") == 6
    assert "largest prime: 9973" in proc.stdout  # real tool work happened
    assert "talaria sessions show" in proc.stderr and "OPENROUTER_API_KEY" in proc.stderr
    workspace = next(
        line.split(":", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("workspace:")
    )
    assert (Path(workspace) / "fib.txt").read_text().splitlines()[:5] == ["0", "1", "1", "2", "3"]
    listing = json.loads(talaria(["sessions", "list", "--json"], home).stdout)
    root = [r for r in listing if r["depth"] == 0]
    children = [r for r in listing if r["source"] == "subagent"]
    assert len(root) == 1 and len(children) == 6
    assert all(c["parent_id"] == root[0]["id"] and c["status"] == "completed" for c in children)
