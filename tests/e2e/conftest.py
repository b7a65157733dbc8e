"""The stack under test: `python -m local_runner` as a subprocess on the session's Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runner.azurite import Azurite
from tests.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(azurite: Azurite, repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log = tmp_path_factory.mktemp("runner") / "runner.log"
    with running_stack(azurite.connection_string, repo_root, log) as running:
        yield running
