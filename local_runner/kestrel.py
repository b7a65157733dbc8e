"""Kestrel's connection limits, which the host leaves at their defaults (WebJobs.Script.WebHost/Program.cs sets only
MaxRequestBodySize), so that a slow client costs the runner what it costs the host.

- Request line and headers: 30 s from their first byte (`RequestHeadersTimeout`), not reset by each byte that
  arrives; then `408 Request Timeout` and the connection is closed (dotnet/aspnetcore,
  Kestrel/test/InMemory.FunctionalTests/RequestHeadersTimeoutTests.cs).
- Body: at least 240 bytes/s on average once 5 s have passed (`MinRequestBodyDataRate`). Kestrel fails the read
  with a 408 `BadHttpRequestException`; the host reads the body while binding the trigger, so that failure is the
  function's and the host's ExceptionMiddleware answers a bare `500`, as for a body over the size limit; the
  connection is closed either way (RequestBodyTimeoutTests.cs: closed even when the app carries on).
- Idle connections: closed after 130 s (`KeepAliveTimeout`); a body nobody reads is drained for at most 5 s.
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate

from aiohttp import StreamReader, web

REQUEST_HEADERS_TIMEOUT = 30.0
MIN_BODY_RATE = 240.0  # bytes per second
BODY_GRACE_PERIOD = 5.0
KEEP_ALIVE_TIMEOUT = 130.0
DRAIN_TIMEOUT = 5.0


class SlowBodyError(Exception):
    """The body arrived slower than MIN_BODY_RATE after the grace period."""


async def read_body(content: StreamReader, length: int | None) -> bytes:
    """The body, `length` bytes (or until its end when None), failing as Kestrel does when it trickles in.

    Kestrel checks the average rate since the read began, once the grace period is over, on its heartbeat; so does
    one timer here, re-armed for when the rate would next fall short, rather than a timeout around every chunk.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.current_task()
    assert reader is not None
    started = loop.time()
    received = bytearray()
    slow = False
    timer: asyncio.TimerHandle

    def check() -> None:
        nonlocal timer, slow
        deadline = started + max(BODY_GRACE_PERIOD, len(received) / MIN_BODY_RATE)
        if loop.time() < deadline:
            timer = loop.call_at(deadline, check)
        else:
            slow = True
            reader.cancel()

    timer = loop.call_at(started + BODY_GRACE_PERIOD, check)
    try:
        while length is None or len(received) < length:
            chunk = await content.readany()
            if not chunk:
                break
            received += chunk
    except asyncio.CancelledError:
        if not slow:
            raise
        reader.uncancel()
        raise SlowBodyError(f"{len(received)} bytes in {loop.time() - started:.1f} s") from None
    finally:
        timer.cancel()
    return bytes(received)


class HeadersTimeout(asyncio.Protocol):
    """aiohttp's protocol for one connection, with Kestrel's request headers timeout around it.

    The timer starts with the first byte that arrives while no request is being handled, and stops when aiohttp
    hands the parsed request to the handler (`request_started`); bytes that arrive during a request are its body.
    """

    def __init__(self, inner: asyncio.Protocol, connections: dict[object, HeadersTimeout]) -> None:
        self._inner = inner
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._in_request = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._connections[transport] = self
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._in_request and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(REQUEST_HEADERS_TIMEOUT, self._timed_out)
        self._inner.data_received(data)

    def request_started(self) -> None:
        self._in_request = True
        self._cancel()

    def request_finished(self, body: StreamReader) -> None:
        """The handler answered; bytes of a body nobody read still belong to this request while aiohttp drains it."""
        if body.is_eof():
            self._in_request = False
        else:
            body.on_eof(self._drained)

    def _drained(self) -> None:
        self._in_request = False

    def _timed_out(self) -> None:
        self._timer = None
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
            + f"Date: {formatdate(usegmt=True)}\r\n".encode()
            + b"Content-Length: 0\r\n\r\n"
        )
        self._transport.close()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self._connections.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class KestrelSite:
    """A TCP listener for an aiohttp AppRunner whose connections keep Kestrel's timeouts (see the module)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._connections: dict[object, HeadersTimeout] = {}

    async def start(self) -> None:
        factory = self._runner.server
        assert factory is not None, "set the runner up first"
        self._server = await asyncio.get_running_loop().create_server(
            lambda: HeadersTimeout(factory(), self._connections), self._host, self._port
        )

    def connection(self, request: web.BaseRequest) -> HeadersTimeout | None:
        return self._connections.get(request.transport)

    def stop(self) -> None:
        """Stop listening; the runner's cleanup closes the connections."""
        if self._server is not None:
            self._server.close()
