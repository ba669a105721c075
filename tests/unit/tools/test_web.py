"""web_fetch against a real HTTP server on 127.0.0.1 (never any other address)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from talaria import concurrency
from talaria.config import Settings
from talaria.errors import ToolError
from talaria.secrets import Redactor
from talaria.tools.base import ToolContext
from talaria.tools.builtin.web import classify, web_fetch

MAX_BYTES = 10_000
PAGE = """<!doctype html><html><head><title>Test  Page</title>
<style>body { color: red }</style><script>var hidden = "do not show";</script></head>
<body><h1>Welcome</h1><p>Read the <a href="/docs">docs</a> first.</p>
<ul><li>alpha</li><li>beta</li></ul><noscript>enable js</noscript></body></html>"""
DATA = {"name": "talaria", "items": [1, 2, 3], "nested": {"ok": True}}


class Handler(BaseHTTPRequestHandler):
    release: threading.Event  # set by the fixture: lets /slow finish at teardown

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, content_type: str | None, body: bytes, **headers: str) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading on purpose (max_bytes)

    def do_GET(self) -> None:
        routes = {
            "/page": (200, "text/html; charset=utf-8", PAGE.encode()),
            "/data.json": (200, "application/json", json.dumps(DATA).encode()),
            "/plain": (200, "text/plain", b"just text\nsecond line\n"),
            "/latin1": (200, "text/plain; charset=iso-8859-1", "café".encode("latin-1")),
            "/huge": (200, "text/plain", b"a" * (MAX_BYTES * 50)),
            "/long": (200, "text/plain", (b"B" * 100 + b"\n") * 80 + b"END"),
            "/image.png": (200, "image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
            "/octet-binary": (200, "application/octet-stream", b"\x00\x01\x02\x03" * 10),
            "/octet-text": (200, None, b"plain words without a type\n"),
            "/missing": (404, "text/plain", b"no such page here"),
            "/broken": (500, "application/json", b'{"error": "database unavailable"}'),
            "/secret": (200, "text/plain", b"token=ghp_abcdefghijklmnopqrstuvwxyz0123\n"),
        }
        if self.path == "/old":
            self._send(302, "text/plain", b"", Location="/page")
        elif self.path == "/slow":
            self.release.wait(30)
            self._send(200, "text/plain", b"too late")
        elif self.path in routes:
            status, ctype, body = routes[self.path]
            self._send(status, ctype, body)
        else:
            self._send(404, "text/plain", b"unknown route")


@pytest.fixture
def server() -> Iterator[str]:
    release = threading.Event()
    handler = type("BoundHandler", (Handler,), {"release": release})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    # A short poll interval so shutdown() at teardown returns promptly.
    concurrency.spawn_thread(lambda: httpd.serve_forever(poll_interval=0.02), name="test-http")
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()


def make_ctx(tmp_path: Path, **overrides: Any) -> ToolContext:
    options: dict[str, Any] = {"web.max_bytes": MAX_BYTES, **overrides}
    return ToolContext(
        run_id="test-run",
        cwd=tmp_path,
        settings=Settings.for_home(tmp_path / "home", **options),
        env={},
        redact=Redactor(),
    )


async def fetch(ctx: ToolContext, url: str) -> str:
    return await web_fetch.invoke(ctx, json.dumps({"url": url}))


async def test_html_becomes_readable_text(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path), f"{server}/page")
    header, body = out.split("\n\n", 1)
    assert f"URL: {server}/page" in header
    assert "Title: Test Page" in header
    assert "Content-Type: text/html" in header
    assert body.splitlines() == [
        "# Welcome",
        "",
        f"Read the docs ({server}/docs) first.",
        "",
        "- alpha",
        "- beta",
    ]
    assert "do not show" not in out
    assert "color: red" not in out
    assert "enable js" not in out


async def test_json_passes_through(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path), f"{server}/data.json")
    assert json.loads(out.split("\n\n", 1)[1]) == DATA


async def test_plain_text_and_declared_charset(tmp_path: Path, server: str) -> None:
    ctx = make_ctx(tmp_path)
    assert (await fetch(ctx, f"{server}/plain")).endswith("\n\njust text\nsecond line")
    assert (await fetch(ctx, f"{server}/latin1")).endswith("\n\ncafé")


async def test_error_status_names_the_status_and_quotes_the_body(tmp_path: Path, server: str):
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match=r"HTTP 404 Not Found.*no such page here"):
        await fetch(ctx, f"{server}/missing")
    with pytest.raises(ToolError, match=r"HTTP 500.*database unavailable"):
        await fetch(ctx, f"{server}/broken")


async def test_body_is_cut_at_max_bytes(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path), f"{server}/huge")
    header, body = out.split("\n\n", 1)
    assert f"cut off after {MAX_BYTES} bytes" in header
    assert body == "a" * MAX_BYTES


async def test_output_is_capped_keeping_head_and_tail(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path, **{"web.max_output_chars": 1000}), f"{server}/long")
    body = out.split("\n\n", 1)[1]
    assert len(body) < 1200
    assert "characters truncated" in body
    assert body.startswith("B" * 100)
    assert body.endswith("END")


async def test_binary_content_is_refused(tmp_path: Path, server: str) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match=r"binary content \(image/png\)"):
        await fetch(ctx, f"{server}/image.png")
    with pytest.raises(ToolError, match="binary content"):
        await fetch(ctx, f"{server}/octet-binary")


async def test_untyped_text_is_sniffed_as_text(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path), f"{server}/octet-text")
    assert out.endswith("\n\nplain words without a type")


async def test_redirects_are_followed_and_reported(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path), f"{server}/old")
    assert out.startswith(f"URL: {server}/page (redirected from {server}/old)")
    assert "# Welcome" in out


async def test_only_http_and_https(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "/relative/path"):
        with pytest.raises(ToolError, match="only http and https"):
            await fetch(ctx, url)


async def test_connection_refused_is_a_tool_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # reserve a free loopback port, then free it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolError, match=r"could not connect to 127\.0\.0\.1"):
        await fetch(make_ctx(tmp_path), f"http://127.0.0.1:{port}/")


async def test_slow_server_times_out(tmp_path: Path, server: str) -> None:
    with pytest.raises(ToolError, match=r"timed out after 0\.3s"):
        await fetch(make_ctx(tmp_path, **{"web.timeout": 0.3}), f"{server}/slow")


async def test_secret_shaped_text_is_redacted(tmp_path: Path, server: str) -> None:
    out = await fetch(make_ctx(tmp_path), f"{server}/secret")
    assert "ghp_" not in out
    assert out.endswith("token=[REDACTED]")


def test_classify_media_types() -> None:
    assert classify("text/html; charset=utf-8", None) == "html"
    assert classify("application/vnd.api+json", None) == "json"
    assert classify("application/rss+xml", None) == "text"
    assert classify("application/pdf", None) == "binary"
    assert classify("", None) == "unknown"
    assert classify("", b"<!DOCTYPE html><html>") == "html"
    assert classify("application/octet-stream", b"\x00\x00") == "binary"


async def test_long_pages_are_condensed_by_the_web_extract_side_task(
    tmp_path: Path, server: str
) -> None:
    from talaria.providers.auxiliary import AuxiliaryRouter
    from talaria.providers.pool import ClientPool
    from talaria.testing.fake_server import FakeLLMServer
    from talaria.testing.replies import RecordedRequest, Reply

    def model(req: RecordedRequest) -> Reply:
        return Reply.say("EXTRACT: a page of B lines ending with END")

    with FakeLLMServer(model) as llm:
        ctx = make_ctx(
            tmp_path,
            **{
                "web.max_output_chars": 1000,
                "auxiliary.web_extract": {
                    "provider": "custom",
                    "base_url": llm.base_url,
                    "model": "extractor",
                },
            },
        )
        pool = ClientPool()
        router = AuxiliaryRouter(ctx.settings, pool)
        ctx.aux = lambda: router
        out = await fetch(ctx, f"{server}/long")
        await pool.aclose()
    assert "EXTRACT: a page of B lines" in out
    assert "extraction by extractor" in out and "web.max_output_chars" in out
    (req,) = llm.requests
    assert req.model == "extractor"
    assert "BBBB" in req.last_user_text  # the page went to the side task


async def test_failed_extraction_falls_back_to_head_and_tail(tmp_path: Path, server: str) -> None:
    from talaria.providers.auxiliary import AuxiliaryRouter
    from talaria.providers.pool import ClientPool
    from talaria.testing.fake_server import FakeLLMServer
    from talaria.testing.replies import Reply

    with FakeLLMServer([Reply.fail(400, "extractor refuses")]) as llm:
        ctx = make_ctx(
            tmp_path,
            **{
                "web.max_output_chars": 1000,
                "auxiliary.web_extract": {"provider": "custom", "base_url": llm.base_url},
            },
        )
        pool = ClientPool()
        router = AuxiliaryRouter(ctx.settings, pool)
        ctx.aux = lambda: router
        out = await fetch(ctx, f"{server}/long")
        await pool.aclose()
    assert "web_extract side task failed" in out and "extractor refuses" in out
    assert "END" in out and "truncated" in out
