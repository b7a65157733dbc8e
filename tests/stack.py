"""The system as users run it: `python -m local_runner` as a subprocess on an Azurite, driven over HTTP."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from azure.storage.queue import QueueServiceClient

from local_runner.process import RunnerProcess, runner_process
from tagging.storage import StorageAccount
from tests.runner.harness import eventually

# Small enough to test the limit quickly, large enough for the hostile corpus.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@dataclass
class Stack:
    """A running runner with the storage behind it and the HTTP calls the tests make."""

    runner: RunnerProcess
    account: StorageAccount
    queues: QueueServiceClient

    @property
    def url(self) -> str:
        return self.runner.url

    @property
    def log(self) -> Path:
        return self.runner.log

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.runner.process

    def peak_rss_mb(self) -> float:
        return self.runner.peak_rss_mb()

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

    def content(self, image_id: str, user: str) -> httpx.Response:
        """An image's bytes as a client downloads them: the API redirects to a link, fetched without credentials."""
        redirect = self.call("GET", f"/api/images/{image_id}/content", user)
        assert redirect.status_code == 302, redirect.text
        return httpx.get(redirect.headers["location"], timeout=30)

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
    settings = {
        "ImageStorage": connection_string,
        "AzureWebJobsStorage": connection_string,
        "TAGGING_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        # Tests tag an image afresh right after tagging it; the interval itself is tested on the function bodies.
        "TAGGING_RETRY_INTERVAL_SECONDS": "0",
        **(env or {}),
    }
    with runner_process(repo_root, log, settings, *args) as runner:
        account = StorageAccount("S", {"S": connection_string})
        yield Stack(runner, account, QueueServiceClient.from_connection_string(connection_string))
