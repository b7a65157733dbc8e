"""Slow clients cost the runner what they cost the host: Kestrel's request headers timeout and minimum body data
rate (local_runner/kestrel.py names the sources), scaled down here so that the tests take seconds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import azure.functions as func
import pytest

from local_runner import kestrel
from local_runner.config import HostConfig
from tests.runner.harness import RunningHost

HEADERS_TIMEOUT = 1.0
GRACE = 0.5


def make_app(calls: list[bytes]) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="echo", methods=["GET", "POST"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        calls.append(req.get_body())
        return func.HttpResponse(f"{len(req.get_body())} bytes", status_code=201)

    return app


@pytest.fixture
def calls() -> list[bytes]:
    return []


@pytest.fixture
def host(calls: list[bytes], monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningHost]:
    monkeypatch.setattr(kestrel, "REQUEST_HEADERS_TIMEOUT", HEADERS_TIMEOUT)
    monkeypatch.setattr(kestrel, "BODY_GRACE_PERIOD", GRACE)
    with RunningHost(make_app(calls), HostConfig()) as running:
        yield running


def connect(host: RunningHost) -> socket.socket:
    return socket.create_connection(("127.0.0.1", host.port), timeout=10)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def response_head(sock: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    return received


def test_headers_that_trickle_in_get_a_408_and_the_connection_closed(host: RunningHost, calls: list[bytes]) -> None:
    """RequestHeadersTimeoutTests.cs, TimeoutNotResetOnEachRequestLineCharacterReceived: each byte that arrives
    does not restart the clock."""
    with connect(host) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(int(3 * HEADERS_TIMEOUT / 0.2)):
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server, as it should be
        received = answer(sock)
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"Connection: close\r\n" in received
    assert HEADERS_TIMEOUT <= elapsed < 3 * HEADERS_TIMEOUT
    assert calls == []


def test_an_idle_keep_alive_connection_is_not_a_slow_request(host: RunningHost, calls: list[bytes]) -> None:
    """The headers clock starts with a request's first byte: waiting between requests is keep-alive's business."""
    with connect(host) as sock:
        for _ in range(2):
            sock.sendall(b"GET /api/echo HTTP/1.1\r\nHost: x\r\n\r\n")
            assert response_head(sock).startswith(b"HTTP/1.1 201")
            time.sleep(1.5 * HEADERS_TIMEOUT)
    assert len(calls) == 2


def test_a_body_slower_than_240_bytes_a_second_after_the_grace_period_is_a_bare_500_and_closes(
    host: RunningHost, calls: list[bytes]
) -> None:
    """MinRequestBodyDataRate (240 bytes/s after 5 s): Kestrel fails the host's read of the body, which the host
    answers as any failure to bind the request, with a 500, and the connection is closed
    (RequestBodyTimeoutTests.cs)."""
    with connect(host) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n")
        try:
            for _ in range(50):
                sock.sendall(b"x" * 10)  # 50 bytes a second
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = answer(sock)
    assert received.startswith(b"HTTP/1.1 500 ")
    assert calls == []


def test_a_body_that_keeps_up_the_rate_arrives_whole_however_long_it_takes(
    host: RunningHost, calls: list[bytes]
) -> None:
    with connect(host) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1200\r\n\r\n")
        for _ in range(8):
            sock.sendall(b"x" * 150)  # 600 bytes a second, for 2 s: 4 grace periods
            time.sleep(0.25)
        assert response_head(sock).startswith(b"HTTP/1.1 201")
    assert calls == [b"x" * 1200]
