"""Cost of the per-turn compression check on a long conversation.

The check runs before every model call.  With cached per-message estimates
(``TokenLedger``) it costs O(new messages); the naive alternative re-estimates
the whole history each turn.  Both are timed on a conversation grown to 500
messages, one turn (assistant call + tool result) at a time.

    uv run python bench/compression_check.py [--messages 500]
"""

from __future__ import annotations

import argparse
import time

from talaria.agent.compression import Compressor, TokenLedger, message_tokens
from talaria.config_schema import CompressionConfig
from talaria.types import Message, ToolCall, Usage


async def _never(prompt: list[Message]) -> tuple[str, Usage, str]:
    raise AssertionError("the benchmark never compresses")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    compressor = Compressor(_never, window=10_000_000, config=CompressionConfig())
    turn = [
        Message(role="assistant", tool_calls=(ToolCall("c", "terminal", '{"command":"ls -la"}'),)),
        Message.tool("c", "terminal", "total 0\n" + "drwxr-xr-x  2 user user 4096 file\n" * 20),
    ]
    messages = [Message.system("system prompt " * 200), Message.user("the task")]
    ledger = TokenLedger()
    cached: list[float] = []
    naive: list[float] = []
    while len(messages) < args.messages:
        messages.extend(turn)
        t0 = time.perf_counter()
        ledger.sync(messages)
        compressor.needed(ledger)
        t1 = time.perf_counter()
        total = sum(message_tokens(m) for m in messages)
        _ = total > 7_500_000
        t2 = time.perf_counter()
        cached.append(t1 - t0)
        naive.append(t2 - t1)
    last = 20
    print(f"conversation: {len(messages)} messages, ≈{ledger.total:,} tokens")
    print(
        f"cached check (last {last} turns): {1e6 * sum(cached[-last:]) / last:7.1f} µs per turn"
        "  (target < 1 ms)"
    )
    print(f"naive recount (last {last} turns): {1e6 * sum(naive[-last:]) / last:7.1f} µs per turn")


if __name__ == "__main__":
    main()
