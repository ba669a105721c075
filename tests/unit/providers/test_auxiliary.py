"""The auxiliary router: the resolution matrix, and real calls through loopback servers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from talaria import concurrency, errors
from talaria.config import Settings
from talaria.providers.aux_routes import TASKS, resolve_all
from talaria.providers.auxiliary import (
    AuxEmptyAnswer,
    AuxiliaryRouter,
    AuxTimeout,
    AuxUnavailable,
    resolve_route,
)
from talaria.providers.factory import primary_endpoint
from talaria.providers.pool import ClientPool
from talaria.runtime import Runtime, default_runtime
from talaria.testing.fake_server import FakeLLMServer
from talaria.testing.replies import Reply
from talaria.types import Message

WAIT = 10.0
MSGS = [Message.system("Name this conversation."), Message.user("hello there")]
NO_RETRY = {"retry.max_retries": 0}


def make(tmp_path: Path, env: Mapping[str, str] | None = None, /, **cfg: Any) -> Settings:
    return Settings.for_home(tmp_path / "home", env or {}, **cfg)


# ----------------------------------------------------------------- resolution matrix


def test_task_entry_wins_and_default_serves_the_other_tasks(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        {"OPENROUTER_API_KEY": "or-key", "OPENAI_API_KEY": "oa-key"},
        **{
            "auxiliary.default": {"provider": "openrouter", "model": "google/gemini-3-flash"},
            "auxiliary.title": {"provider": "openai", "model": "gpt-4o-mini"},
        },
    )
    title = resolve_route(s, "title")
    assert (title.source, title.endpoint.provider, title.endpoint.model) == (
        "auxiliary.title",
        "openai",
        "gpt-4o-mini",
    )
    assert title.endpoint.base_url == "https://api.openai.com/v1"
    assert title.endpoint.api_key == "oa-key" and title.endpoint.key_source == "OPENAI_API_KEY"
    for task in ("compression", "web_extract", "vision", "session_search"):
        r = resolve_route(s, task)
        assert r.source == "auxiliary.default"
        assert (r.endpoint.provider, r.endpoint.model) == ("openrouter", "google/gemini-3-flash")
        assert r.endpoint.base_url == "https://openrouter.ai/api/v1"
        assert r.endpoint.api_key == "or-key"
    assert list(resolve_all(s)) == list(TASKS)


def test_no_auxiliary_config_means_the_main_model_with_its_fallbacks(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        {"OPENROUTER_API_KEY": "k"},
        **{
            "model.name": "main-model",
            "fallback_providers": [{"provider": "openai", "model": "gpt-backup"}],
        },
    )
    for task in TASKS:
        r = resolve_route(s, task)
        assert r.source == "model"
        assert r.endpoint == primary_endpoint(s)
        assert [(f.provider, f.model) for f in r.fallbacks] == [("openai", "gpt-backup")]
        assert r.timeout == 60.0 and r.max_tokens is None
        assert "main model" in r.explain()


def test_timeout_only_task_entry_does_not_change_the_endpoint(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        **{
            "auxiliary.default": {"provider": "openrouter", "model": "cheap", "max_tokens": 500},
            "auxiliary.compression": {"timeout": 5},
        },
    )
    r = resolve_route(s, "compression")
    assert r.source == "auxiliary.default"
    assert (r.endpoint.provider, r.endpoint.model) == ("openrouter", "cheap")
    assert (r.timeout, r.max_tokens) == (5.0, 500)  # limits: task entry, else default entry
    # …and with no default entry at all, the main model serves with the task's timeout.
    s2 = make(tmp_path, **{"auxiliary.compression": {"timeout": 5}})
    r2 = resolve_route(s2, "compression")
    assert (r2.source, r2.endpoint, r2.timeout) == ("model", primary_endpoint(s2), 5.0)


def test_named_provider_takes_its_preset_url_not_the_main_custom_url(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        {"OPENAI_API_KEY": "oa"},
        **{
            "model.provider": "custom",
            "model.base_url": "http://10.1.2.3:8000/v1",
            "model.api_key": "main-secret",
            "auxiliary.title": {"provider": "openai", "model": "gpt-4o-mini"},
        },
    )
    r = resolve_route(s, "title")
    assert r.endpoint.base_url == "https://api.openai.com/v1"
    assert r.endpoint.api_key == "oa"  # never the main model's key on another server


def test_model_only_entry_inherits_main_provider_url_and_key(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        **{
            "model.provider": "custom",
            "model.base_url": "http://10.1.2.3:8000/v1",
            "model.api_key": "main-secret",
            "auxiliary.title": {"model": "small-model"},
        },
    )
    r = resolve_route(s, "title")
    assert (r.source, r.endpoint.provider, r.endpoint.model) == (
        "auxiliary.title",
        "custom",
        "small-model",
    )
    assert r.endpoint.base_url == "http://10.1.2.3:8000/v1"
    assert r.endpoint.api_key == "main-secret" and r.endpoint.key_source == "model.api_key"


def test_entries_are_never_mixed_a_task_base_url_keeps_the_task_model(tmp_path: Path) -> None:
    """The FIELD bug: task's model with the default's URL.  Here the task entry wins whole."""
    s = make(
        tmp_path,
        **{
            "auxiliary.default": {
                "provider": "openrouter",
                "model": "default-model",
                "api_key": "default-key",
            },
            "auxiliary.vision": {"base_url": "http://127.0.0.1:9/v1"},
        },
    )
    r = resolve_route(s, "vision")
    assert r.source == "auxiliary.vision"
    # provider and model come from the main model, not from auxiliary.default
    assert (r.endpoint.provider, r.endpoint.model) == ("openrouter", "anthropic/claude-sonnet-4")
    assert r.endpoint.base_url == "http://127.0.0.1:9/v1"
    assert r.endpoint.api_key is None and r.endpoint.key_source == "OPENROUTER_API_KEY"


def test_explicit_entry_api_key_is_used_and_never_printed(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        {"OPENROUTER_API_KEY": "env-key"},
        **{"auxiliary.title": {"provider": "openrouter", "model": "m", "api_key": "sk-entry-1"}},
    )
    r = resolve_route(s, "title")
    assert r.endpoint.api_key == "sk-entry-1"
    assert r.endpoint.key_source == "auxiliary.title.api_key"
    assert "sk-entry-1" not in r.explain() and "sk-entry-1" not in repr(r)


def test_missing_key_is_visible_in_the_route_not_an_error(tmp_path: Path) -> None:
    s = make(tmp_path, **{"auxiliary.title": {"provider": "openrouter", "model": "m"}})
    r = resolve_route(s, "title")
    assert r.endpoint.api_key is None and r.endpoint.key_required
    assert "missing — set OPENROUTER_API_KEY" in r.explain()


def test_fallbacks_come_from_the_deciding_entry_only(tmp_path: Path) -> None:
    s = make(
        tmp_path,
        {"OPENAI_API_KEY": "oa"},
        **{
            "fallback_providers": [{"provider": "nous", "model": "main-fallback"}],
            "auxiliary.default": {
                "provider": "openrouter",
                "model": "d",
                "fallback": [
                    {"provider": "openai", "model": "gpt-b"},
                    {"provider": "custom", "model": "local", "base_url": "http://127.0.0.1:8/v1"},
                ],
            },
            "auxiliary.title": {"provider": "openai", "model": "t"},
            "auxiliary.vision": {"fallback": [{"provider": "nous", "model": "ignored"}]},
        },
    )
    comp = resolve_route(s, "compression")
    assert [(f.provider, f.model, f.base_url) for f in comp.fallbacks] == [
        ("openai", "gpt-b", "https://api.openai.com/v1"),
        ("custom", "local", "http://127.0.0.1:8/v1"),
    ]
    assert comp.key_config_path(2) == "auxiliary.default.fallback[1].api_key"
    # The title entry decided: neither the default's nor the main model's fallbacks apply.
    assert resolve_route(s, "title").fallbacks == ()
    vision = resolve_route(s, "vision")
    assert vision.source == "auxiliary.default"
    assert [f.model for f in vision.fallbacks] == ["gpt-b", "local"]
    assert any("auxiliary.vision.fallback is ignored" in n for n in vision.notes)


def test_ignored_api_key_is_reported_in_notes(tmp_path: Path) -> None:
    s = make(tmp_path, **{"auxiliary.title": {"api_key": "sk-orphan", "timeout": 9}})
    r = resolve_route(s, "title")
    assert r.source == "model"
    assert r.endpoint.api_key != "sk-orphan"
    assert r.notes == (
        "auxiliary.title.api_key is ignored: auxiliary.title names no provider, model or "
        "base_url, so the main model decides the endpoint",
    )


def test_unknown_task_and_bad_entries_are_errors_naming_the_key(tmp_path: Path) -> None:
    s = make(tmp_path)
    with pytest.raises(ValueError, match="unknown auxiliary task 'summary'"):
        resolve_route(s, "summary")
    bad_url = make(tmp_path, **{"auxiliary.default": {"provider": "custom", "model": "m"}})
    with pytest.raises(errors.ConfigError) as info:
        resolve_route(bad_url, "title")
    assert info.value.key == "auxiliary.default.base_url"
    bad_timeout = make(tmp_path, **{"auxiliary.title": {"timeout": 0}})
    with pytest.raises(errors.ConfigError) as info:
        resolve_route(bad_timeout, "title")
    assert info.value.key == "auxiliary.title.timeout"


# ------------------------------------------------------------------ calls, loopback


def _aux_at(server: FakeLLMServer, model: str = "aux-model", **more: Any) -> dict[str, Any]:
    return {"provider": "custom", "base_url": server.base_url, "model": model, **more}


async def test_aux_call_goes_to_the_resolved_endpoint_never_the_main_one(tmp_path: Path) -> None:
    async with (
        FakeLLMServer() as main,
        FakeLLMServer([Reply.say("A Short Title", usage=(42, 3))]) as aux,
    ):
        s = make(
            tmp_path,
            **{
                "model.provider": "custom",
                "model.base_url": main.base_url,
                "model.name": "main-model",
                "auxiliary.default": _aux_at(aux),
            },
        )
        pool = ClientPool()
        router = AuxiliaryRouter(s, pool)
        result = await router.call("title", MSGS, max_tokens=30)
        assert result.text == "A Short Title"
        assert (result.usage.input_tokens, result.usage.output_tokens) == (42, 3)
        assert result.endpoint.base_url == aux.base_url and result.attempts == ()
        assert result.route.source == "auxiliary.default"
        (req,) = aux.requests
        assert req.model == "aux-model" and req.body["max_tokens"] == 30
        assert req.tools == [] and req.last_user_text == "hello there"
        assert main.requests == []
        await pool.aclose()


async def test_without_aux_config_the_main_endpoint_serves(tmp_path: Path) -> None:
    async with FakeLLMServer() as main:
        s = make(
            tmp_path,
            **{"model.provider": "custom", "model.base_url": main.base_url, "model.name": "mm"},
        )
        pool = ClientPool()
        result = await AuxiliaryRouter(s, pool).call("compression", MSGS)
        assert result.text == "echo: hello there" and result.route.source == "model"
        assert [r.model for r in main.requests] == ["mm"]
        await pool.aclose()


async def test_fallback_is_used_and_the_primary_failure_is_listed(tmp_path: Path) -> None:
    async with (
        FakeLLMServer([Reply.fail(503, "primary is down")]) as primary,
        FakeLLMServer([Reply.say("from the fallback")]) as backup,
    ):
        s = make(
            tmp_path,
            **NO_RETRY,
            **{
                "auxiliary.title": _aux_at(
                    primary,
                    fallback=[
                        {"provider": "custom", "base_url": backup.base_url, "model": "fb-model"}
                    ],
                )
            },
        )
        pool = ClientPool()
        result = await AuxiliaryRouter(s, pool).call("title", MSGS)
        assert result.text == "from the fallback"
        assert result.endpoint.base_url == backup.base_url and result.endpoint.model == "fb-model"
        (attempt,) = result.attempts
        assert primary.base_url in attempt and "primary is down" in attempt
        assert len(primary.requests) == 1 and [r.model for r in backup.requests] == ["fb-model"]
        await pool.aclose()


async def test_every_endpoint_failing_raises_one_error_naming_all(tmp_path: Path) -> None:
    async with (
        FakeLLMServer([Reply.fail(401, "bad key")]) as primary,
        FakeLLMServer([Reply.say("")]) as backup,
    ):
        fb = {"provider": "custom", "base_url": backup.base_url, "model": "fb"}
        s = make(tmp_path, **{"auxiliary.compression": _aux_at(primary, fallback=[fb])})
        pool = ClientPool()
        with pytest.raises(AuxUnavailable) as info:
            await AuxiliaryRouter(s, pool).call("compression", MSGS)
        text = str(info.value)
        assert "auxiliary task 'compression'" in text and "auxiliary.compression" in text
        assert primary.base_url in text and "bad key" in text
        assert backup.base_url in text and "empty answer" in text
        assert [type(e) for _, e in info.value.failures] == [errors.AuthError, AuxEmptyAnswer]
        await pool.aclose()


async def test_missing_key_fails_at_call_time_naming_the_variable(tmp_path: Path) -> None:
    s = make(tmp_path, **{"auxiliary.title": {"provider": "openrouter", "model": "cheap"}})
    pool = ClientPool()
    with pytest.raises(errors.MissingCredentials) as info:
        await AuxiliaryRouter(s, pool).call("title", MSGS)
    text = str(info.value)
    assert "auxiliary task 'title'" in text and "OPENROUTER_API_KEY" in text
    assert "auxiliary.title.api_key" in text
    assert pool.constructed == 0  # reported before any connection


async def test_entry_api_key_is_sent_as_the_bearer_token(tmp_path: Path) -> None:
    async with FakeLLMServer() as aux:
        s = make(
            tmp_path,
            {"TALARIA_API_KEY": "not-this-one"},
            **{"auxiliary.title": _aux_at(aux, api_key="sk-aux-entry")},
        )
        pool = ClientPool()
        await AuxiliaryRouter(s, pool).call("title", MSGS)
        assert aux.requests[0].headers["authorization"] == "Bearer sk-aux-entry"
        await pool.aclose()


async def test_timeout_is_honoured_and_does_not_poison_the_pool(tmp_path: Path) -> None:
    async with FakeLLMServer([Reply(hang=True), Reply.say("after the timeout")]) as aux:
        s = make(tmp_path, **{"auxiliary.title": _aux_at(aux, timeout=30)})
        pool = ClientPool()
        router = AuxiliaryRouter(s, pool)
        with pytest.raises(AuxTimeout) as info:
            await router.call("title", MSGS, timeout=0.3)  # the call's timeout beats the route's
        assert "auxiliary task 'title'" in str(info.value) and "0.3s" in str(info.value)
        # The hanging request's stream was closed, not left open on the server…
        assert await aux.wait_for_async(lambda srv: srv.cancelled == 1, WAIT)
        # …and the client was neither evicted nor broken: the next call reuses it.
        result = await router.call("title", MSGS)
        assert result.text == "after the timeout"
        assert pool.constructed == 1 and pool.stats()["leases"] == 0
        await pool.aclose()


async def test_empty_answer_is_an_error(tmp_path: Path) -> None:
    async with FakeLLMServer([Reply.say("   ")]) as aux:
        s = make(tmp_path, **{"auxiliary.title": _aux_at(aux)})
        pool = ClientPool()
        with pytest.raises(AuxEmptyAnswer, match="auxiliary task 'title'"):
            await AuxiliaryRouter(s, pool).call("title", MSGS)
        await pool.aclose()


async def test_call_sync_on_the_routers_own_loop_refuses_instead_of_deadlocking(
    tmp_path: Path,
) -> None:
    pool = ClientPool()
    router = AuxiliaryRouter(make(tmp_path), pool)
    assert router.loop is asyncio.get_running_loop()  # created on a loop: bound to it
    with pytest.raises(RuntimeError, match="own event loop"):
        router.call_sync("title", MSGS)


def test_unbound_router_binds_to_the_background_loop_and_other_loops_hop_there(
    tmp_path: Path,
) -> None:
    with FakeLLMServer() as aux:
        s = make(tmp_path, **{"auxiliary.default": _aux_at(aux)})
        pool = ClientPool()
        router = AuxiliaryRouter(s, pool)
        bound_before = router.loop
        assert router.call_sync("title", [Message.user("one")]).text == "echo: one"
        assert bound_before is None and router.loop is concurrency.background_loop().loop
        # From a different loop, the call runs on the router's loop: same pooled client.
        result = asyncio.run(router.call("vision", [Message.user("two")]))
        assert result.text == "echo: two"
        assert pool.constructed == 1
        concurrency.run_sync(pool.aclose())


def test_a_router_whose_loop_closed_says_so_instead_of_hanging(tmp_path: Path) -> None:
    owner = concurrency.LoopThread("test-owner")
    router = AuxiliaryRouter(make(tmp_path), ClientPool(), loop=owner.loop)
    owner.stop()
    with pytest.raises(RuntimeError, match="has closed"):
        router.call_sync("title", MSGS)
    with pytest.raises(RuntimeError, match="has closed"):
        asyncio.run(router.call("title", MSGS))


def test_runtime_offers_one_router_per_home_and_configuration(tmp_path: Path) -> None:
    rt = Runtime()
    s = make(tmp_path)
    router = rt.aux(s)
    assert rt.aux(s) is router and router.pool is rt.pool
    assert rt.aux(make(tmp_path)) is router  # equal configuration, same router
    other = make(tmp_path, **{"auxiliary.title": {"model": "x"}})
    assert rt.aux(other) is not router and rt.aux(other).settings is other
    # The default runtime serves the sync library API from the background loop.
    assert default_runtime().aux(s).loop is concurrency.background_loop().loop
