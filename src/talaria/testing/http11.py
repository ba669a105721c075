"""A minimal HTTP/1.1 server connection: asyncio streams framed by ``h11``.

The fake LLM server needs three things a framework would hide from it:
keep-alive connections (real clients pool them), streamed chunked responses,
and prompt notice when the client goes away mid-response (so tests can prove
that an interrupt really closed the stream).  ``h11`` does the parsing and
framing; this module owns the socket, and stays small enough to audit.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from http import HTTPStatus

import h11
import msgspec

__all__ = ["ClientGone", "HttpConnection", "IncomingRequest"]

_READ_SIZE = 65536


class ClientGone(Exception):
    """The peer closed or reset the connection while we were answering."""


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _header_list(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class HttpConnection:
    """One client connection, serving requests one after another (keep-alive).

    Reading and writing never happen concurrently from two tasks, except that
    :meth:`wait_peer_closed` may read while a response is being written; data
    it receives (a pipelined next request) is handed to h11 and not lost.
    """

    __slots__ = ("_h11", "_reader", "_writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.SERVER)

    async def _recv(self) -> bytes:
        try:
            return await self._reader.read(_READ_SIZE)
        except OSError:  # reset by peer
            return b""

    async def read_request(self) -> IncomingRequest | None:
        """The next complete request, or ``None`` when the client is done with us."""
        request: h11.Request | None = None
        body = bytearray()
        try:
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA:
                    if self._h11.they_are_waiting_for_100_continue:  # curl, large bodies
                        await self._send(h11.InformationalResponse(status_code=100, headers=[]))
                    self._h11.receive_data(await self._recv())
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert request is not None
                    return self._incoming(request, bytes(body))
                else:  # ConnectionClosed, PAUSED
                    return None
        except h11.RemoteProtocolError as exc:
            if self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                error = msgspec.json.encode({"error": {"message": f"bad HTTP request: {exc}"}})
                with contextlib.suppress(ClientGone, h11.LocalProtocolError):
                    await self.respond(exc.error_status_hint, {}, error)
            return None

    @staticmethod
    def _incoming(request: h11.Request, body: bytes) -> IncomingRequest:
        headers: dict[str, str] = {}
        for name, value in request.headers:
            key = name.decode("latin-1")  # h11 lower-cases names
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        target = request.target.decode("latin-1")
        return IncomingRequest(
            method=request.method.decode("ascii"),
            path=target.split("?", 1)[0],
            headers=headers,
            body=body,
        )

    async def wait_peer_closed(self) -> None:
        """Return once the client closes or resets the connection.

        Run alongside a response: an idle HTTP client sends nothing while it
        waits, so EOF here means it gave up.  Half-closing clients (rare) are
        indistinguishable from gone ones and are treated as gone.
        """
        while True:
            data = await self._recv()
            if not data:
                return
            self._h11.receive_data(data)

    async def _send(self, *events: h11.Event) -> None:
        data = b"".join(self._h11.send(e) or b"" for e in events)
        if self._writer.is_closing():
            raise ClientGone("connection closed")
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    async def respond(
        self, status: int, headers: dict[str, str], body: bytes, content_type: str = ""
    ) -> None:
        """A complete response with a ``content-length`` body."""
        fields = {
            "content-type": content_type or "application/json",
            "content-length": str(len(body)),
            **headers,
        }
        response = h11.Response(
            status_code=status, headers=_header_list(fields), reason=_reason(status)
        )
        if body:
            await self._send(response, h11.Data(data=body), h11.EndOfMessage())
        else:
            await self._send(response, h11.EndOfMessage())

    async def start_stream(self, status: int, headers: dict[str, str], first: bytes) -> None:
        """Response headers for a chunked body, plus its first piece in the same write."""
        response = h11.Response(
            status_code=status, headers=_header_list(headers), reason=_reason(status)
        )
        await self._send(response, h11.Data(data=first))

    async def stream(self, data: bytes) -> None:
        await self._send(h11.Data(data=data))

    async def end_stream(self) -> None:
        await self._send(h11.EndOfMessage())

    def next_cycle(self) -> bool:
        """Get ready for the next request on this connection; ``False`` if it must close."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    async def close(self, *, abort: bool = False) -> None:
        """Close the socket; never raises (the peer may already be gone).

        ``abort`` drops unsent data instead of flushing it, for clients that
        are gone or a server that is shutting down.
        """
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
