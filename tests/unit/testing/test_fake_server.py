"""The fake OpenAI-compatible server, driven by real HTTP clients (httpx, httpx-sse).

These tests pin the wire format other tests rely on, and the observability
(in-flight counts, cancellation) that interrupt tests use as evidence.  Waits
poll server state with a deadline; nothing sleeps blindly or asserts timings.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse, connect_sse

from talaria.testing import FakeLLMServer, RecordedRequest, Reply, ScriptQueue, ToolCallSpec

MakeServer = Callable[..., FakeLLMServer]
USER = [{"role": "user", "content": "hello"}]
WAIT = 5.0  # generous deadline for state to settle; typical waits are milliseconds


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    servers: list[FakeLLMServer] = []

    def make(handler: Any = None, **kw: Any) -> FakeLLMServer:
        server = FakeLLMServer(handler, **kw).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def body(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": USER, "stream": stream, **extra}


def stream_chunks(client: httpx.Client, payload: dict[str, Any]) -> tuple[list[Any], bool]:
    """Every JSON chunk of a stream, and whether ``[DONE]`` ended it."""
    chunks: list[Any] = []
    done = False
    with connect_sse(client, "POST", "/chat/completions", json=payload) as events:
        assert events.response.status_code == 200
        assert events.response.headers["content-type"].startswith("text/event-stream")
        for event in events.iter_sse():
            assert not done, "nothing may follow [DONE]"
            if event.data == "[DONE]":
                done = True
            else:
                chunks.append(json.loads(event.data))
    return chunks, done


def settled(server: FakeLLMServer, *, completed: int = 0, cancelled: int = 0) -> bool:
    return server.wait_for(
        lambda s: s.in_flight == 0 and s.completed == completed and s.cancelled == cancelled,
        WAIT,
    )


def test_non_stream_completion(make_server: MakeServer) -> None:
    server = make_server([Reply.say("Paris.", reasoning="capital of France", cost=0.25)])
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post("/chat/completions", json=body())
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "test-model"
    choice = data["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Paris."
    assert choice["message"]["reasoning"] == choice["message"]["reasoning_content"]
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert usage["cost"] == 0.25
    assert settled(server, completed=1)


def test_stream_text_deltas_reassemble(make_server: MakeServer) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice over."
    server = make_server([Reply.say(text), Reply.say(text, chunks=5)])
    with httpx.Client(base_url=server.base_url) as client:
        for expected_pieces in (None, 5):
            chunks, done = stream_chunks(client, body(stream=True))
            assert done
            assert all(c["object"] == "chat.completion.chunk" for c in chunks)
            assert len({c["id"] for c in chunks}) == 1
            assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
            pieces = [
                c["choices"][0]["delta"]["content"]
                for c in chunks[1:]
                if c["choices"][0]["delta"].get("content")
            ]
            assert "".join(pieces) == text
            assert len(pieces) == (expected_pieces or len(pieces)) and len(pieces) > 1
            assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
            assert all("usage" not in c for c in chunks)  # not asked for


def test_stream_tool_calls_reassemble(make_server: MakeServer) -> None:
    weather = {"city": "Zürich", "units": "metric", "days": [1, 2, 3]}
    reply = Reply.calls([("get_weather", weather), ToolCallSpec("clock", {}, id="call_fixed")])
    server = make_server([reply])
    with httpx.Client(base_url=server.base_url) as client:
        chunks, done = stream_chunks(client, body(stream=True))
    assert done
    calls: dict[int, dict[str, Any]] = {}
    fragments: dict[int, int] = {}
    for chunk in chunks:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            index = delta["index"]
            if index not in calls:  # first delta of a call carries its identity
                assert delta["type"] == "function" and delta["id"]
                calls[index] = {"id": delta["id"], "name": delta["function"]["name"], "args": ""}
            else:
                assert "id" not in delta and "name" not in delta["function"]
                fragments[index] = fragments.get(index, 0) + 1
            calls[index]["args"] += delta["function"]["arguments"]
    assert [c["name"] for c in calls.values()] == ["get_weather", "clock"]
    assert json.loads(calls[0]["args"]) == weather
    assert json.loads(calls[1]["args"]) == {}
    assert calls[0]["id"].startswith("call_") and calls[1]["id"] == "call_fixed"
    assert fragments[0] > 1, "arguments must arrive in several fragments"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_invalid_json_arguments_are_sent_verbatim(make_server: MakeServer) -> None:
    server = make_server([Reply.call("broken", '{"path": "unterminated')])
    with httpx.Client(base_url=server.base_url) as client:
        data = client.post("/chat/completions", json=body()).json()
    message = data["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"]["arguments"] == '{"path": "unterminated'


def test_usage_chunk_only_when_asked(make_server: MakeServer) -> None:
    server = make_server([Reply.say("hi", usage=(11, 3), cost=0.5), Reply.say("hi")])
    with httpx.Client(base_url=server.base_url) as client:
        asked, _ = stream_chunks(client, body(True, stream_options={"include_usage": True}))
        unasked, _ = stream_chunks(client, body(True))
    last = asked[-1]
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 3,
        "total_tokens": 14,
        "cost": 0.5,
    }
    assert all(c["usage"] is None for c in asked[:-1])
    assert all(c["choices"] and "usage" not in c for c in unasked)


@pytest.mark.parametrize("stream", [False, True])
def test_error_status_with_headers(make_server: MakeServer, stream: bool) -> None:
    server = make_server([Reply.fail(429, "slow down", headers={"Retry-After": "7"})])
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post("/chat/completions", json=body(stream))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == {
        "message": "slow down",
        "type": "rate_limit_exceeded",
        "code": None,
    }


def test_stream_error_event_after_text(make_server: MakeServer) -> None:
    error = {"code": 502, "message": "upstream provider disconnected"}
    server = make_server([Reply.say("partial answer", stream_error=error)])
    with httpx.Client(base_url=server.base_url) as client:
        chunks, done = stream_chunks(client, body(stream=True))
    assert not done
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "partial answer"
    assert chunks[-1]["error"] == error
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"


def test_ignore_stream_answers_with_json(make_server: MakeServer) -> None:
    server = make_server([Reply.say("plain", ignore_stream=True)])
    with httpx.Client(base_url=server.base_url) as client:
        response = client.post("/chat/completions", json=body(stream=True))
    assert response.headers["content-type"] == "application/json"
    assert response.json()["choices"][0]["message"]["content"] == "plain"
    assert server.requests[0].stream is True


async def test_concurrent_streams_with_latency(make_server: MakeServer) -> None:
    server = make_server(latency=0.3)  # echo handler

    async def one(client: httpx.AsyncClient, i: int) -> str:
        payload = {"model": "m", "stream": True, "messages": [{"role": "user", "content": f"n{i}"}]}
        text = ""
        async with aconnect_sse(client, "POST", "/chat/completions", json=payload) as events:
            async for event in events.aiter_sse():
                if event.data != "[DONE]":
                    delta = json.loads(event.data)["choices"][0]["delta"]
                    text += delta.get("content") or ""
        return text

    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        texts = await asyncio.gather(*(one(client, i) for i in range(20)))
    assert texts == [f"echo: n{i}" for i in range(20)]
    assert await server.wait_for_async(lambda s: s.completed == 20 and s.in_flight == 0, WAIT)
    assert server.max_in_flight >= 10
    assert server.cancelled == 0


def test_client_timeout_during_hang_cancels_request(make_server: MakeServer) -> None:
    server = make_server([Reply(hang=True)])
    with (
        httpx.Client(base_url=server.base_url, timeout=httpx.Timeout(5, read=0.2)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/chat/completions", json=body())
    assert settled(server, cancelled=1)
    record = server.requests[0]
    assert record.cancelled and record.finished_at is not None


async def test_task_cancellation_during_hang_cancels_request(make_server: MakeServer) -> None:
    server = make_server([Reply(hang=True)])
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        task = asyncio.create_task(client.post("/chat/completions", json=body()))
        assert await server.wait_for_async(lambda s: s.in_flight == 1, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await server.wait_for_async(lambda s: s.in_flight == 0 and s.cancelled == 1, WAIT)
    assert server.requests[0].cancelled


def test_disconnect_mid_stream_cancels_request(make_server: MakeServer) -> None:
    long_text = " ".join(f"word{i}" for i in range(400))
    server = make_server([Reply.say(long_text, chunk_delay=0.02), Reply.say("after")])
    with httpx.Client(base_url=server.base_url) as client:
        with connect_sse(client, "POST", "/chat/completions", json=body(True)) as events:
            for seen, _ in enumerate(events.iter_sse()):
                if seen == 3:
                    break  # leaving the block closes the half-read response
        assert settled(server, cancelled=1)
        # The server survives and keeps serving on a fresh connection.
        response = client.post("/chat/completions", json=body())
        assert response.json()["choices"][0]["message"]["content"] == "after"
    assert [r.cancelled for r in server.requests] == [True, False]


def test_handler_exception_becomes_500(make_server: MakeServer) -> None:
    calls = 0

    def flaky(request: RecordedRequest) -> Reply:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("boom in handler")
        return Reply.say("recovered")

    server = make_server(flaky)
    with httpx.Client(base_url=server.base_url) as client:
        failed = client.post("/chat/completions", json=body())
        recovered = client.post("/chat/completions", json=body())
    assert failed.status_code == 500
    assert "ValueError: boom in handler" in failed.json()["error"]["message"]
    assert recovered.json()["choices"][0]["message"]["content"] == "recovered"


async def test_async_handler_and_async_context_manager() -> None:
    async def handler(request: RecordedRequest) -> Reply:
        await asyncio.sleep(0)
        return Reply.say(f"tools: {','.join(request.tool_names)}")

    async with FakeLLMServer(handler) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        tools = [{"type": "function", "function": {"name": "read_file", "parameters": {}}}]
        response = await c.post("/chat/completions", json=body(tools=tools))
    assert response.json()["choices"][0]["message"]["content"] == "tools: read_file"


def test_script_exhausted_is_a_clear_500(make_server: MakeServer) -> None:
    queue = ScriptQueue([Reply.say("only one")])
    server = make_server(queue)
    with httpx.Client(base_url=server.base_url) as client:
        assert client.post("/chat/completions", json=body()).status_code == 200
        response = client.post("/chat/completions", json=body())
    assert response.status_code == 500
    assert "ScriptQueue exhausted" in response.json()["error"]["message"]
    assert queue.remaining == 0 and queue.served == 1


def test_request_log_records_what_the_client_sent(make_server: MakeServer) -> None:
    server = make_server()
    tools = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "find "}, {"type": "text", "text": "x"}],
        },
    ]
    headers = {"Authorization": "Bearer sk-test"}
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        payload = {"model": "vendor/model-1", "messages": messages, "tools": tools}
        response = client.post("/chat/completions", json=payload)
    assert response.json()["choices"][0]["message"]["content"] == "echo: find x"
    (record,) = server.requests
    assert record.index == 0
    assert (record.method, record.path) == ("POST", "/v1/chat/completions")
    assert record.model == "vendor/model-1"
    assert record.messages == messages and record.tools == tools
    assert record.tool_names == ["search"]
    assert record.stream is False
    assert record.headers["authorization"] == "Bearer sk-test"
    assert settled(server, completed=1)
    server.reset_stats()
    assert (server.requests, server.completed, server.max_in_flight) == ([], 0, 0)


def test_models_unknown_paths_and_bad_bodies(make_server: MakeServer) -> None:
    server = make_server(models=["a", "b"])
    with httpx.Client(base_url=server.base_url) as client:
        models = client.get("/models").json()
        missing = client.get("/embeddings")
        bad = client.post("/chat/completions", content=b"{not json")
        wrong_method = client.get("/chat/completions")
    assert [m["id"] for m in models["data"]] == ["a", "b"]
    assert missing.status_code == 404 and "error" in missing.json()
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    assert wrong_method.status_code == 405


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_module_main_serves_until_signalled(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "talaria.testing.fake_server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        response = httpx.post(f"{base_url}/chat/completions", json=body())
        assert response.json()["choices"][0]["message"]["content"] == "echo: hello"
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_package_import_is_lazy() -> None:
    code = (
        "import sys, talaria.testing as t\n"
        "assert 'talaria.testing.fake_server' not in sys.modules\n"
        "assert 'h11' not in sys.modules\n"
        "assert t.FakeLLMServer.__name__ == 'FakeLLMServer'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_stop_with_requests_in_flight_cancels_them() -> None:
    server = await FakeLLMServer([Reply(hang=True), Reply(hang=True)]).astart()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        posts = [asyncio.create_task(client.post("/chat/completions", json=body())) for _ in "ab"]
        assert await server.wait_for_async(lambda s: s.in_flight == 2, WAIT)
        await server.astop()
        results = await asyncio.gather(*posts, return_exceptions=True)
    assert all(isinstance(r, httpx.TransportError) for r in results)
    assert (server.in_flight, server.cancelled) == (0, 2)
    assert all(r.cancelled for r in server.requests)
