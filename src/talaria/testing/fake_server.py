"""A loopback HTTP server that speaks the OpenAI chat-completions wire format.

Integration tests, CLI tests, benchmarks and ``talaria demo`` point real HTTP
clients at it (``--base-url http://127.0.0.1:PORT/v1``), so the whole client
stack (pooling, SSE parsing, retries, cancellation) runs for real while the
"model" follows a script of :class:`~talaria.testing.replies.Reply` values.

The server runs on its own event loop in a background thread (a
:class:`~talaria.concurrency.LoopThread`), so sync tests, async tests and
subprocesses can all use it.  Everything a test may want to assert on (the
request log, in-flight count and high-water mark, completed and cancelled
counts) is guarded by one condition variable and readable from any thread;
:meth:`FakeLLMServer.wait_for` waits for a predicate without blind sleeping.

Run ``python -m talaria.testing.fake_server --port 0`` for a manual echo server.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Self

import msgspec

from talaria.concurrency import LoopThread
from talaria.testing import encoding
from talaria.testing.http11 import ClientGone, HttpConnection, IncomingRequest
from talaria.testing.replies import (
    Handler,
    RecordedRequest,
    Reply,
    ScriptQueue,
    echo,
    resolve_usage,
)
from talaria.testing.request_log import RequestLog

__all__ = ["FakeLLMServer", "main"]

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder().decode
_ASYNC_POLL = 0.005  # wait_for_async polling period; the sync wait_for is notified instead
_ROUTES = {"/v1/chat/completions": "POST", "/v1/models": "GET"}  # path -> allowed method


class FakeLLMServer:
    """A fake OpenAI-compatible endpoint on ``127.0.0.1``, scripted per request.

    ``handler`` decides each reply: a callable (sync or async) taking the
    :class:`RecordedRequest`, a sequence of replies served in order, or
    ``None`` for the echo handler.  ``latency`` is added to every reply's own.
    """

    def __init__(
        self,
        handler: Handler | Sequence[Reply] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        models: Sequence[str] = ("fake-model",),
    ) -> None:
        if handler is None:
            handler = echo
        elif not callable(handler):
            handler = ScriptQueue(handler)
        self.handler: Handler = handler
        self._host = host
        self._port = port
        self._latency = latency
        self._models = tuple(models) or ("fake-model",)
        self._log = RequestLog()
        # Loop-thread only:
        self._call_ids = itertools.count(1)
        self._connections: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._thread: LoopThread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Bind and start serving; returns ``self``.  Starting twice is a no-op."""
        if self._thread is None:
            thread = LoopThread(name="talaria-fake-llm")
            try:
                thread.run(self._open(), timeout=10)
            except BaseException:
                thread.stop()
                raise
            self._thread = thread
        return self

    def stop(self) -> None:
        """Close every connection (in-flight requests count as cancelled) and the loop."""
        thread, self._thread = self._thread, None
        if thread is not None:
            try:
                thread.run(self._shutdown(), timeout=10)
            finally:
                thread.stop()

    async def astart(self) -> Self:
        """:meth:`start` for async callers: binds on the server's loop while the
        caller's loop awaits, instead of blocking it."""
        if self._thread is None:
            thread = LoopThread(name="talaria-fake-llm")  # only waits for the thread to start
            try:
                await asyncio.wrap_future(thread.submit(self._open()))
            except BaseException:
                thread.stop()
                raise
            self._thread = thread
        return self

    async def astop(self) -> None:
        """:meth:`stop` for async callers."""
        thread, self._thread = self._thread, None
        if thread is not None:
            try:
                await asyncio.wrap_future(thread.submit(self._shutdown()))
            finally:
                thread.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.astop()

    async def _open(self) -> None:
        # A large backlog: benchmarks open 128+ connections at once, and an
        # overflowing accept queue turns into one-second SYN retransmits.
        server = await asyncio.start_server(self._on_connect, self._host, self._port, backlog=1024)
        self._server = server
        self._port = server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        if server is not None:
            await server.wait_closed()

    # ------------------------------------------------------------ observability

    @property
    def port(self) -> int:
        if self._thread is None:
            raise RuntimeError("FakeLLMServer is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what a client's ``base_url`` should be."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of the request log (every path, oldest first)."""
        return self._log.requests

    @property
    def in_flight(self) -> int:
        return self._log.in_flight

    @property
    def max_in_flight(self) -> int:
        """Highest number of requests in flight at once since start or ``reset_stats``."""
        return self._log.max_in_flight

    @property
    def completed(self) -> int:
        return self._log.completed

    @property
    def cancelled(self) -> int:
        """Requests whose client went away before the response was complete."""
        return self._log.cancelled

    def reset_stats(self) -> None:
        """Forget finished requests and counts; requests still in flight stay tracked."""
        self._log.reset()

    def wait_for(self, predicate: Callable[[FakeLLMServer], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds; ``False`` once ``timeout`` seconds pass.

        Woken by every request start and finish, not by polling.
        """
        return self._log.wait_for(lambda: predicate(self), timeout)

    async def wait_for_async(
        self,
        predicate: Callable[[FakeLLMServer], bool],
        timeout: float,
    ) -> bool:
        """:meth:`wait_for` for async tests: polls without blocking the caller's loop."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_ASYNC_POLL)
        return True

    def __repr__(self) -> str:
        where = f"{self._host}:{self._port}" if self._thread else "stopped"
        return f"<FakeLLMServer {where} in_flight={self._log.in_flight}>"

    # ----------------------------------------------------------------- requests

    def _begin(self, req: IncomingRequest) -> tuple[RecordedRequest, str | None]:
        """Log the request; also say what is wrong with its body, if anything."""
        body: dict[str, Any] = {}
        problem: str | None = None
        if req.body:
            try:
                parsed = _decode(req.body)
            except msgspec.DecodeError as exc:
                parsed, problem = None, f"request body is not valid JSON: {exc}"
            if isinstance(parsed, dict):
                body = parsed
            elif problem is None:
                problem = "request body must be a JSON object"
        record = self._log.begin(path=req.path, method=req.method, headers=req.headers, body=body)
        return record, problem

    # ------------------------------------------------------------------ serving

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        http = HttpConnection(reader, writer)
        graceful = True
        try:
            while graceful:
                req = await http.read_request()
                if req is None:
                    break
                graceful = await self._serve(http, req)
                if not http.next_cycle():
                    break
        except asyncio.CancelledError:
            # Server shutting down.  Not re-raised: this is the top of a task
            # asyncio.start_server owns, and Python 3.11's callback calls
            # task.exception() on it, logging a spurious error for a cancelled task.
            graceful = False
        except Exception:  # a bug here must not go unseen, nor kill the server
            log.exception("fake LLM server connection failed")
            graceful = False
        finally:
            self._connections.discard(task)
            await http.close(abort=not graceful)

    async def _serve(self, http: HttpConnection, req: IncomingRequest) -> bool:
        """Answer one request while watching for the client to go away.

        Returns ``False`` if the response could not be completed (client gone,
        server stopping or a bug), in which case the connection must be dropped.
        """
        record, problem = self._begin(req)
        responder = asyncio.create_task(self._respond(http, record, problem))
        watcher = asyncio.create_task(http.wait_peer_closed())
        finished = False
        try:
            await asyncio.wait((responder, watcher), return_when=asyncio.FIRST_COMPLETED)
            finished = responder.done() and not responder.cancelled()
            if finished and (exc := responder.exception()) is not None:
                finished = False
                if not isinstance(exc, ClientGone):
                    log.error("fake LLM server failed answering %s", req.path, exc_info=exc)
        finally:
            watcher.cancel()
            responder.cancel()
            await asyncio.wait((responder, watcher))
            self._log.finish(record, cancelled=not finished)
        return finished

    async def _respond(
        self, http: HttpConnection, record: RecordedRequest, problem: str | None
    ) -> None:
        path, method = record.path, record.method
        allowed = _ROUTES.get(path)
        if allowed is None:
            await self._error(http, 404, f"no route for {method} {path}", code="unknown_url")
        elif method != allowed:
            await self._error(http, 405, f"{method} not allowed on {path}; use {allowed}")
        elif path == "/v1/models":
            body = encoding.models_list(self._models, int(time.time()))
            await http.respond(200, {}, encoding.encode(body))
        elif problem is not None:
            await self._error(http, 400, problem)
        else:
            await self._deliver(http, record, await self._decide(record))

    async def _error(self, http: HttpConnection, status: int, message: str, code: str = "") -> None:
        error = Reply.fail(status, message, code=code or None).error
        await http.respond(status, {}, encoding.encode(encoding.error_payload(status, error)))

    async def _decide(self, record: RecordedRequest) -> Reply:
        """Ask the handler; its failures become 500 replies, never a dead server."""
        try:
            result = self.handler(record)
            # ``object``: untyped handlers do return other things, and must get a clear 500.
            reply: object = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            log.debug("fake LLM handler raised", exc_info=True)
            return Reply.fail(
                500, f"handler raised {type(exc).__name__}: {exc}", type="handler_error"
            )
        if not isinstance(reply, Reply):
            message = f"handler returned {type(reply).__name__}, not a Reply"
            return Reply.fail(500, message, type="handler_error")
        return reply

    async def _deliver(self, http: HttpConnection, record: RecordedRequest, reply: Reply) -> None:
        if reply.hang:
            await asyncio.get_running_loop().create_future()  # until the client leaves
        delay = reply.latency + self._latency
        if delay > 0:
            await asyncio.sleep(delay)
        headers = {"x-request-id": f"req_fake_{record.index}", **reply.headers}
        if reply.status != 200 or reply.error is not None:
            body = encoding.encode(encoding.error_payload(reply.status, reply.error))
            await http.respond(reply.status, headers, body)
            return
        meta = encoding.StreamMeta(
            id=f"chatcmpl-fake{record.index}",
            model=record.model or self._models[0],
            created=int(time.time()),
        )
        calls = encoding.resolve_calls(reply.tool_calls, self._call_ids)
        tokens = resolve_usage(reply, record.messages)
        if not record.stream or reply.ignore_stream:
            body = encoding.encode(encoding.completion(reply, meta, calls, tokens))
            await http.respond(200, headers, body)
            return
        options = record.body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        events = encoding.stream_events(reply, meta, calls, tokens, include_usage=include_usage)
        sse_headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            **headers,
        }
        if reply.chunk_delay <= 0:  # one write: the cheapest way to push many streams
            await http.start_stream(200, sse_headers, b"".join(events))
        else:
            await http.start_stream(200, sse_headers, events[0])
            for event in events[1:]:
                await asyncio.sleep(reply.chunk_delay)
                await http.stream(event)
        await http.end_stream()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the echo handler until SIGINT/SIGTERM, after printing ``base_url``."""
    parser = argparse.ArgumentParser(
        prog="python -m talaria.testing.fake_server",
        description="Loopback OpenAI-compatible fake LLM server (echo handler).",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    args = parser.parse_args(argv)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    # Installed before binding so a signal sent right after the URL is printed
    # is not lost to the default handler.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with FakeLLMServer(port=args.port, latency=args.latency) as server:
            print(server.base_url, flush=True)
            stopping.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
