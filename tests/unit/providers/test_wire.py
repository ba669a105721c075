"""The wire adapter against vendor-shaped responses, through the real provider and a
``httpx.MockTransport`` so SSE framing is exercised too."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from helpers import vendor_shapes as shapes
from talaria import errors
from talaria.events import ReasoningDelta, TextDelta
from talaria.providers import wire
from talaria.providers.base import ModelRequest, ModelResponse
from talaria.providers.openai_compat import OpenAICompatProvider
from talaria.providers.pool import ClientKey, ClientPool
from talaria.providers.presets import Endpoint
from talaria.types import Message, ToolCall

Handler = Callable[[httpx.Request], httpx.Response]


def _provider(
    handler: Handler, *, stream: bool = True, provider: str = "openai"
) -> OpenAICompatProvider:
    def factory(key: ClientKey) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(handler))

    ep = Endpoint(
        provider=provider,
        model="test-model",
        base_url="https://api.example.test/v1",
        api_key="sk-test-key-123456789",
        key_source="OPENAI_API_KEY",
        key_required=True,
    )
    return OpenAICompatProvider(ep, ClientPool(factory), stream=stream)


def _sse(body: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=body.encode()
        )

    return handler


def _json(status: int, body: str, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        h = {"content-type": "application/json", **(headers or {})}
        return httpx.Response(status, headers=h, content=body.encode())

    return handler


async def _collect(p: OpenAICompatProvider) -> tuple[list[object], ModelResponse]:
    items: list[object] = []
    async for item in p.stream(ModelRequest(messages=[Message.user("hi")])):
        items.append(item)
    final = items[-1]
    assert isinstance(final, ModelResponse)
    return items[:-1], final


async def test_openai_stream_assembles_fragmented_tool_calls_and_usage() -> None:
    deltas, resp = await _collect(_provider(_sse(shapes.OPENAI_STREAM_TOOLS)))
    assert deltas == []
    calls = resp.message.tool_calls
    assert [c.name for c in calls] == ["read_file", "terminal"]
    assert [c.id for c in calls] == ["call_abc", "call_def"]
    assert json.loads(calls[0].arguments) == {"path": "a.txt"}
    assert json.loads(calls[1].arguments) == {"command": "ls"}
    assert resp.finish_reason == "tool_calls"
    assert resp.usage.input_tokens == 120
    assert resp.usage.output_tokens == 40
    assert resp.usage.cached_input_tokens == 64
    assert resp.model == "gpt-4o-2024-08-06"
    # gpt-4o is in the price table: cost is estimated when the vendor does not report it.
    assert resp.usage.cost_usd == pytest.approx((120 * 2.5 + 40 * 10) / 1e6)


async def test_openrouter_reasoning_comments_and_reported_cost() -> None:
    deltas, resp = await _collect(
        _provider(_sse(shapes.OPENROUTER_STREAM_REASONING), provider="openrouter")
    )
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    reasoning = "".join(d.text for d in deltas if isinstance(d, ReasoningDelta))
    assert text == "The answer is 42."
    assert reasoning == "Let me think about it."
    assert resp.message.content == "The answer is 42."
    assert resp.message.reasoning == "Let me think about it."
    details = resp.message.reasoning_details
    assert isinstance(details, list) and len(details) == 1
    assert details[0]["text"] == "Let me think about it."
    assert details[0]["signature"] == "EqQBCkYIBRgCKkD"
    assert resp.usage.cost_usd == pytest.approx(0.00061)  # reported cost wins over the table
    assert resp.usage.reasoning_tokens == 12


async def test_reasoning_details_are_echoed_back_on_the_next_request() -> None:
    msg = Message(role="assistant", content="x", reasoning="r", reasoning_details=[{"a": 1}])
    encoded = wire.encode_message(msg)
    assert encoded["reasoning_details"] == [{"a": 1}]
    # DeepSeek rejects its own reasoning_content on input: it is never sent back.
    assert "reasoning_content" not in encoded and "reasoning" not in encoded


async def test_deepseek_reasoning_content() -> None:
    deltas, resp = await _collect(_provider(_sse(shapes.DEEPSEEK_STREAM_REASONING)))
    assert "".join(d.text for d in deltas if isinstance(d, ReasoningDelta)) == (
        "Two plus two is four."
    )
    assert resp.message.content == "4"
    assert resp.usage.reasoning_tokens == 7


@pytest.mark.parametrize(
    ("body", "names", "args"),
    [
        (
            shapes.OLLAMA_STREAM_TOOLS,
            ["terminal", "terminal"],
            [{"command": "ls"}, {"command": "ls -l"}],
        ),
        (
            shapes.NO_INDEX_STREAM_TOOLS,
            ["web_fetch", "web_fetch"],
            [{"url": "http://a"}, {"url": "http://b"}],
        ),
        (shapes.LLAMACPP_STREAM_TOOLS, ["todo"], [{"todos": None}]),
    ],
    ids=["ollama", "no-index", "llama.cpp"],
)
async def test_tool_call_dialects(body: str, names: list[str], args: list[object]) -> None:
    _, resp = await _collect(_provider(_sse(body)))
    assert [c.name for c in resp.message.tool_calls] == names
    assert [json.loads(c.arguments) for c in resp.message.tool_calls] == args
    assert len({c.id for c in resp.message.tool_calls}) == len(names)


async def test_midstream_error_event_is_classified() -> None:
    p = _provider(_sse(shapes.OPENROUTER_MIDSTREAM_ERROR), provider="openrouter")
    seen: list[object] = []
    with pytest.raises(errors.OverloadedError) as info:
        async for item in p.stream(ModelRequest(messages=[Message.user("hi")])):
            seen.append(item)
    assert [d.text for d in seen if isinstance(d, TextDelta)] == ["Partial"]
    assert "upstream connection reset" in str(info.value)


async def test_non_streaming_completion_and_object_arguments() -> None:
    _, resp = await _collect(_provider(_json(200, shapes.OPENAI_COMPLETION_TOOLS), stream=False))
    assert resp.message.tool_calls == (ToolCall("call_1", "terminal", '{"command":"date"}'),)
    assert resp.usage.input_tokens == 82
    _, resp = await _collect(
        _provider(_json(200, shapes.OLLAMA_COMPLETION_OBJECT_ARGS), stream=False)
    )
    assert json.loads(resp.message.tool_calls[0].arguments) == {"path": "README.md"}


async def test_server_that_ignores_stream_flag_is_parsed_as_one_completion() -> None:
    _, resp = await _collect(_provider(_json(200, shapes.OPENAI_COMPLETION_TOOLS), stream=True))
    assert resp.message.tool_calls[0].name == "terminal"


async def test_server_rejecting_stream_options_falls_back_to_non_streaming() -> None:
    calls: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body)
        if body.get("stream"):
            return httpx.Response(
                400,
                json={"error": {"message": "Unrecognized request argument: stream_options"}},
            )
        return httpx.Response(200, content=shapes.OPENAI_COMPLETION_TOOLS.encode())

    p = _provider(handler)
    _, resp = await _collect(p)
    assert resp.message.tool_calls[0].name == "terminal"
    _, _ = await _collect(p)  # remembered: the second request goes straight to non-stream
    assert [bool(c.get("stream")) for c in calls] == [True, False, False]


@pytest.mark.parametrize(
    ("name", "kind", "retryable"),
    [
        ("openai_rate_limit", errors.RateLimitError, True),
        ("openai_quota", errors.QuotaExceededError, False),
        ("openai_context", errors.ContextOverflowError, False),
        ("openai_auth", errors.AuthError, False),
        ("openrouter_no_credits", errors.QuotaExceededError, False),
        ("openrouter_anthropic_too_long", errors.ContextOverflowError, False),
        ("vllm_context", errors.ContextOverflowError, False),
        ("fastapi_validation", errors.BadRequestError, False),
        ("anthropic_overloaded", errors.OverloadedError, True),
        ("nginx_502_html", errors.OverloadedError, True),
        ("ollama_model_missing", errors.BadRequestError, False),
    ],
)
async def test_error_classification(name: str, kind: type[Exception], retryable: bool) -> None:
    status, headers, body = shapes.ERRORS[name]
    p = _provider(_json(status, body, headers))
    with pytest.raises(kind) as info:
        await _collect(p)
    err = info.value
    assert isinstance(err, errors.ProviderError)
    assert type(err) is kind
    assert err.retryable is retryable
    assert err.status == status
    assert str(status) in str(err)


async def test_rate_limit_reads_retry_after_ms_first() -> None:
    status, headers, body = shapes.ERRORS["openai_rate_limit"]
    with pytest.raises(errors.RateLimitError) as info:
        await _collect(_provider(_json(status, body, headers)))
    assert info.value.retry_after == pytest.approx(1.5)


def test_retry_after_forms() -> None:
    assert wire.parse_retry_after({"Retry-After": "3"}) == 3.0
    assert wire.parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert wire.parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert wire.parse_retry_after({"retry-after": "soon"}) is None
    assert wire.parse_retry_after({}) is None


async def test_auth_error_names_the_key_to_fix() -> None:
    status, headers, body = shapes.ERRORS["openai_auth"]
    with pytest.raises(errors.AuthError) as info:
        await _collect(_provider(_json(status, body, headers)))
    assert "OPENAI_API_KEY" in str(info.value)


async def test_request_body_and_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=shapes.OPENAI_COMPLETION_TOOLS.encode())

    p = _provider(handler, provider="openrouter")
    history = [
        Message.system("sys"),
        Message.user("u"),
        Message(role="assistant", tool_calls=(ToolCall("c1", "terminal", '{"command":"ls"}'),)),
        Message.tool("c1", "terminal", "out"),
    ]
    tools = [{"type": "function", "function": {"name": "terminal", "parameters": {}}}]
    async for _ in p.stream(ModelRequest(messages=history, tools=tools, extra_body={"top_k": 5})):
        pass
    req = seen[0]
    assert req.headers["authorization"] == "Bearer sk-test-key-123456789"
    assert req.headers["x-title"] == "Talaria"
    body = json.loads(req.content)
    assert body["model"] == "test-model"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["usage"] == {"include": True}  # OpenRouter: report the billed cost
    assert body["top_k"] == 5
    assert body["tools"] == tools
    assert body["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "terminal", "arguments": '{"command":"ls"}'},
            }
        ],
    }
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "out"}


async def test_transport_error_becomes_network_error_and_evicts_client() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    built: list[httpx.AsyncClient] = []

    def factory(key: ClientKey) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        built.append(c)
        return c

    ep = Endpoint("custom", "m", "http://127.0.0.1:9/v1", None, "TALARIA_API_KEY", False)
    pool = ClientPool(factory)
    p = OpenAICompatProvider(ep, pool)
    for _ in range(2):
        with pytest.raises(errors.NetworkError) as info:
            await _collect(p)
        assert "127.0.0.1:9" in str(info.value)
    assert len(built) == 2  # the broken client was evicted and rebuilt once per failure
    assert built[0].is_closed
    await pool.aclose()


async def test_missing_key_is_reported_before_any_request() -> None:
    ep = Endpoint(
        "openrouter", "m", "https://openrouter.ai/api/v1", None, "OPENROUTER_API_KEY", True
    )
    p = OpenAICompatProvider(ep, ClientPool())
    with pytest.raises(errors.MissingCredentials) as info:
        await _collect(p)
    assert "OPENROUTER_API_KEY" in str(info.value)
