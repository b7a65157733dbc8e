"""Shared fixtures: one Azurite for the test session, on free ports with a temporary data folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.queue import QueueServiceClient

from local_runner.azurite import Azurite, Ports
from tagging.storage import StorageAccount
from tests.stack import Stack, running_stack


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    emulator = Azurite(tmp_path_factory.mktemp("azurite"), Ports.free())
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def storage_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The app's named connection and the host's storage, pointed at the test Azurite."""
    env = {"ImageStorage": azurite.connection_string, "AzureWebJobsStorage": azurite.connection_string}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def account(storage_env: dict[str, str]) -> StorageAccount:
    return StorageAccount("ImageStorage")


@pytest.fixture
def queues(storage_env: dict[str, str]) -> QueueServiceClient:
    """Queue clients for the test Azurite (the app builds none: its queues are bindings), with the connections set
    as for `account`."""
    return QueueServiceClient.from_connection_string(storage_env["AzureWebJobsStorage"])


@pytest.fixture
def unique() -> str:
    """A name no other test uses: storage names allow lower-case letters and digits everywhere."""
    return "t" + uuid.uuid4().hex[:12]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "azurite" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.azurite)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def stack(azurite: Azurite, repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log = tmp_path_factory.mktemp("runner") / "runner.log"
    with running_stack(azurite.connection_string, repo_root, log) as running:
        yield running
