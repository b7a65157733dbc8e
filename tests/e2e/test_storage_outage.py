"""Storage goes away in the middle of a batch and comes back: nothing accepted is lost or stuck.

Azurite is stopped gracefully while uploads are being tagged and started again on the same data. Uploads made
while it is down get a clear 503; every upload a client kept trying until it got 202 or 200 ends `done`; the
runner reconnects with backoff instead of dying.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local_runner.azurite import Azurite, Ports
from tests.images import image_bytes
from tests.runner.harness import eventually
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

UPLOADS = 32
PACE = 0.4  # seconds between a client's uploads: the batch spans the outage
PATIENCE = 90  # seconds a client keeps trying one upload


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[Azurite]:
    emulator = Azurite(tmp_path / "azurite", Ports.free())
    emulator.start()
    yield emulator
    emulator.stop()


def test_an_outage_mid_batch_loses_nothing(own_azurite: Azurite, repo_root: Path, tmp_path: Path) -> None:
    who = f"outage-{uuid.uuid4().hex[:8]}"
    # A short message lease, so that jobs whose completion the outage interrupted come back within the test.
    with running_stack(
        own_azurite.connection_string, repo_root, tmp_path / "runner.log", "--message-lease", "20"
    ) as stack:
        statuses: list[int] = []
        accepted: dict[int, str] = {}
        lock = threading.Lock()

        gave_up: dict[int, str] = {}
        # What a client saw that it must not: asserting in a thread would only end that thread, not fail the test.
        wrong: list[str] = []

        def client(numbers: range) -> None:
            try:
                upload_each(numbers)
            except Exception as exc:  # reported below, where the test can fail on it
                wrong.append(f"a client stopped: {exc!r}")

        # The first quarter is uploaded before the outage; the rest wait for it, so that the batch spans it
        # whatever the machine's speed (a stop is graceful: Azurite may serve open connections a while longer).
        down = threading.Event()

        def upload_each(numbers: range) -> None:
            for n in numbers:
                if n >= UPLOADS // 4 and not down.wait(60):
                    wrong.append(f"upload {n}: the outage never began")
                    return
                data = image_bytes("PNG", (40 + n, 30), (n * 9 % 256, 120, 200))
                # A patient client: tries again on 5xx and on connection errors, for as long as a restart of the
                # storage may take on a loaded machine.
                deadline = time.monotonic() + PATIENCE
                while time.monotonic() < deadline:
                    try:
                        response = stack.upload(data, who)
                    except httpx.HTTPError as exc:
                        gave_up[n] = repr(exc)
                        time.sleep(0.5)
                        continue
                    with lock:
                        statuses.append(response.status_code)
                    if response.status_code in (200, 202):
                        with lock:
                            accepted[n] = response.json()["id"]
                            gave_up.pop(n, None)
                        time.sleep(PACE)
                        break
                    gave_up[n] = f"{response.status_code} {response.text}"
                    if response.status_code not in (500, 503):
                        wrong.append(f"upload {n}: {response.status_code} {response.text}")
                    elif response.status_code == 503 and (
                        response.headers.get("retry-after") != "5"
                        or response.json()["error"]["code"] != "storage_unavailable"
                    ):
                        wrong.append(f"upload {n}: a 503 without Retry-After 5 or its code: {response.text}")
                    time.sleep(0.5)

        clients = [threading.Thread(target=client, args=(range(k, UPLOADS, 4),)) for k in range(4)]
        for thread in clients:
            thread.start()
        eventually(lambda: len(accepted) >= UPLOADS // 4, timeout=60)
        own_azurite.stop()  # gracefully, mid-batch
        down.set()
        time.sleep(10)  # longer than the SDKs' retries: uploads meanwhile meet a storage that is not there
        assert stack.process.poll() is None, "the runner died with its storage"
        own_azurite.start()
        for thread in clients:
            thread.join(PATIENCE * UPLOADS // 4)
        assert not any(thread.is_alive() for thread in clients), "a client is still uploading"
        assert wrong == []
        assert len(accepted) == UPLOADS, f"uploads never accepted, with their last answer: {gave_up}"
        assert 503 in statuses, f"no upload met the outage, the test proved nothing: {statuses}"
        assert all(status in (200, 202, 500, 503) for status in statuses)
        for image_id in accepted.values():
            assert settled(stack, image_id, who) == "done"
        assert stack.process.poll() is None
        assert "unreachable" in stack.log.read_text()  # the listener said so, and carried on


def settled(stack: Stack, image_id: str, who: str) -> str:
    def check() -> str | None:
        response = stack.get(image_id, who)
        status = response.json().get("status") if response.status_code == 200 else None
        return status if status not in (None, "pending") else None

    result: str = eventually(check, timeout=90, interval=0.5)
    return result
