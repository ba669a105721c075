"""Retries, backoff, Retry-After and the fallback chain, on scripted providers."""

from __future__ import annotations

import random

import pytest

from talaria import errors
from talaria.config_schema import RetryConfig
from talaria.events import Notice, TextDelta
from talaria.providers.base import ModelRequest, ModelResponse
from talaria.providers.resilient import ResilientProvider, backoff_delay
from talaria.testing.replies import Reply
from talaria.testing.scripted import ScriptedProvider
from talaria.types import Message

REQ = ModelRequest(messages=[Message.user("hi")])


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def _run(p: ResilientProvider) -> tuple[list[object], ModelResponse]:
    items: list[object] = [i async for i in p.stream(REQ)]
    assert isinstance(items[-1], ModelResponse)
    return items[:-1], items[-1]


def _cfg(
    max_retries: int = 3, base_delay: float = 1.0, max_delay: float = 30.0, budget: float = 120.0
) -> RetryConfig:
    return RetryConfig(
        max_retries=max_retries, base_delay=base_delay, max_delay=max_delay, budget=budget
    )


async def test_429_honours_retry_after_then_succeeds() -> None:
    primary = ScriptedProvider(
        [Reply.fail(429, "slow down", headers={"Retry-After": "7"}), Reply.say("ok")]
    )
    sleep = FakeSleep()
    items, resp = await _run(ResilientProvider([primary], _cfg(), sleep=sleep))
    assert resp.message.content == "ok"
    assert len(sleep.delays) == 1
    assert 7.0 <= sleep.delays[0] <= 7.7  # never earlier than the server asked
    notices = [i for i in items if isinstance(i, Notice)]
    assert len(notices) == 1 and "rate limit" in notices[0].message


async def test_503_storm_then_fallback_provider_is_used() -> None:
    primary = ScriptedProvider([Reply.fail(503, "overloaded")] * 4, name="primary")
    backup = ScriptedProvider([Reply.say("from backup")], name="backup", model="b-model")
    sleep = FakeSleep()
    items, resp = await _run(
        ResilientProvider([primary, backup], _cfg(), sleep=sleep, rng=random.Random(1))
    )
    assert resp.message.content == "from backup"
    assert resp.provider == "backup"
    assert len(primary.requests) == 4  # 1 try + 3 retries
    assert len(sleep.delays) == 3
    # exponential backoff with jitter: each delay within [ceiling/2, ceiling]
    for attempt, d in enumerate(sleep.delays):
        ceiling = min(30.0, 2**attempt)
        assert ceiling / 2 <= d <= ceiling
    messages = [i.message for i in items if isinstance(i, Notice)]
    assert any("falling back to backup/b-model" in m for m in messages)


async def test_auth_error_is_not_retried_and_message_is_kept() -> None:
    primary = ScriptedProvider([Reply.fail(401, "invalid key"), Reply.say("never")])
    sleep = FakeSleep()
    with pytest.raises(errors.AuthError) as info:
        await _run(ResilientProvider([primary], _cfg(), sleep=sleep))
    assert "invalid key" in str(info.value)
    assert len(primary.requests) == 1
    assert sleep.delays == []


async def test_context_overflow_is_raised_without_fallback() -> None:
    primary = ScriptedProvider([Reply.fail(400, "maximum context length is 8192 tokens")])
    backup = ScriptedProvider([Reply.say("never")])
    with pytest.raises(errors.ContextOverflowError):
        await _run(ResilientProvider([primary, backup], _cfg(), sleep=FakeSleep()))
    assert backup.requests == []


async def test_retry_budget_caps_total_waiting() -> None:
    primary = ScriptedProvider(
        [Reply.fail(429, "wait", headers={"Retry-After": "50"})] * 5, name="p"
    )
    backup = ScriptedProvider([Reply.say("b")], name="b")
    sleep = FakeSleep()
    _, resp = await _run(ResilientProvider([primary, backup], _cfg(budget=60), sleep=sleep))
    assert resp.message.content == "b"
    assert len(sleep.delays) == 1  # a second 50 s wait would exceed the 60 s budget
    assert len(primary.requests) == 2


async def test_quota_exhausted_goes_straight_to_fallback() -> None:
    primary = ScriptedProvider([Reply.fail(429, "You exceeded your current quota")])
    backup = ScriptedProvider([Reply.say("b")])
    sleep = FakeSleep()
    _, resp = await _run(ResilientProvider([primary, backup], _cfg(), sleep=sleep))
    assert resp.message.content == "b"
    assert sleep.delays == []


async def test_everything_failing_reports_each_provider() -> None:
    primary = ScriptedProvider([Reply.fail(401, "bad key A")], name="a", model="ma")
    backup = ScriptedProvider([Reply.fail(500, "down B")] * 2, name="b", model="mb")
    with pytest.raises(errors.ProviderUnavailable) as info:
        await _run(ResilientProvider([primary, backup], _cfg(max_retries=1), sleep=FakeSleep()))
    text = str(info.value)
    assert "bad key A" in text and "down B" in text
    assert len(info.value.attempts) == 3


async def test_single_provider_exhausted_says_how_many_attempts() -> None:
    primary = ScriptedProvider([Reply.fail(503, "busy")] * 3)
    with pytest.raises(errors.OverloadedError) as info:
        await _run(ResilientProvider([primary], _cfg(max_retries=2), sleep=FakeSleep()))
    assert "gave up after 3 attempts" in str(info.value)


async def test_stream_that_already_produced_text_is_not_retried() -> None:
    primary = ScriptedProvider(
        [
            Reply.say("half an answer", stream_error={"code": 502, "message": "upstream died"}),
            Reply.say("never"),
        ]
    )
    seen: list[object] = []
    with pytest.raises(errors.OverloadedError):
        async for item in ResilientProvider([primary], _cfg(), sleep=FakeSleep()).stream(REQ):
            seen.append(item)
    assert "".join(i.text for i in seen if isinstance(i, TextDelta)) == "half an answer"
    assert len(primary.requests) == 1


def test_backoff_without_retry_after_grows_and_caps() -> None:
    rng = random.Random(0)
    cfg = _cfg(base_delay=0.5, max_delay=4.0)
    delays = [backoff_delay(a, cfg, None, rng) for a in range(8)]
    assert all(0.25 <= d <= 4.0 for d in delays)
    assert max(delays[5:]) > 2.0
