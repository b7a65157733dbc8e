"""The system as users run it: `python -m local_runner` as a subprocess on an Azurite, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from azure.storage.queue import QueueServiceClient

from local_runner.azurite import terminate_with_parent
from tagging.storage import StorageAccount
from tests.runner.harness import eventually

# Small enough to test the limit quickly, large enough for the hostile corpus.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@dataclass
class Stack:
    url: str
    account: StorageAccount
    queues: QueueServiceClient
    log: Path
    process: subprocess.Popen[bytes]

    def peak_rss_mb(self) -> float:
        """The runner's peak resident memory so far (VmHWM), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc: not Linux?")

    def upload(self, data: bytes, user: str, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/images",
            content=data,
            headers={"X-MS-CLIENT-PRINCIPAL-ID": user, "Content-Type": "image/jpeg", **headers},
            timeout=30,
        )

    def call(
        self, method: str, path: str, user: str | None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        sent = {**(headers or {}), **({"X-MS-CLIENT-PRINCIPAL-ID": user} if user is not None else {})}
        return httpx.request(method, f"{self.url}{path}", headers=sent, timeout=30, **kwargs)

    def get(self, image_id: str, user: str) -> httpx.Response:
        return httpx.get(f"{self.url}/api/images/{image_id}", headers={"X-MS-CLIENT-PRINCIPAL-ID": user}, timeout=30)

    def settled(self, image_id: str, user: str, timeout: float = 30) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            body: dict[str, Any] = self.get(image_id, user).json()
            return body if body["status"] != "pending" else None

        result: dict[str, Any] = eventually(check, timeout=timeout, interval=0.1)
        return result


@contextmanager
def running_stack(
    connection_string: str, repo_root: Path, log: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """`python -m local_runner` on a free port against the given storage; stopped (and checked) on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {
        **os.environ,
        "ImageStorage": connection_string,
        "AzureWebJobsStorage": connection_string,
        "TAGGING_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        **(env or {}),
    }
    command = [sys.executable, "-m", "local_runner", "--port", str(port), "--settings", str(log.with_suffix(".none"))]
    with log.open("wb") as out:
        # Bound to this process's life: no runner outlives a killed test run.
        process = subprocess.Popen(
            [*command, *args],
            cwd=repo_root,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=terminate_with_parent(),  # noqa: PLW1509 - it only calls prctl
        )
    try:
        eventually(lambda: _accepts(port) or process.poll() is not None, timeout=30)
        assert process.poll() is None, log.read_text()
        account = StorageAccount("S", {"S": connection_string})
        yield Stack(
            f"http://127.0.0.1:{port}",
            account,
            QueueServiceClient.from_connection_string(connection_string),
            log,
            process,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    assert code == 0, f"the runner did not stop cleanly:\n{log.read_text()[-3000:]}"


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
