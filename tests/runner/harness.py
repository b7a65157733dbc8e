"""Run the local runner's Host in a background thread, as `python -m local_runner` runs it."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.storage.queue import QueueClient

from local_runner.config import HostConfig
from local_runner.functions import index
from local_runner.host import Endpoint, Host


class RunningHost:
    def __init__(self, app: func.FunctionApp, config: HostConfig, *, message_lease: int = 600) -> None:
        self.host = Host(index(app), config, message_lease=message_lease)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        serving = asyncio.create_task(self.host.serve(Endpoint("127.0.0.1", self.port), ready))
        await ready.wait()
        self._ready.set()
        await serving

    def __enter__(self) -> RunningHost:
        self._thread.start()
        if not self._ready.wait(15):
            raise TimeoutError("the host did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.host.stop)
        self._thread.join(30)


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until `check()` returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


def raw_messages(queue: QueueClient) -> list[str]:
    """Peek at what is really stored in a queue, without any decoding."""
    try:
        return [m.content for m in queue.peek_messages(max_messages=32)]
    except Exception:  # the queue does not exist yet
        return []


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()
