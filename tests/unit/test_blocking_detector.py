"""The suite's blocking-call detector is really armed for async tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from blockbuster import BlockingError

from talaria.paths import Paths


async def test_blocking_call_from_talaria_code_on_the_loop_fails(tmp_path: Path) -> None:
    with pytest.raises(BlockingError):
        Paths(home=tmp_path / "new").ensure_home()  # os.mkdir on the event loop


def test_sync_tests_are_not_policed(tmp_path: Path) -> None:
    Paths(home=tmp_path / "new").ensure_home()
    assert (tmp_path / "new").is_dir()
