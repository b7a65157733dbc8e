"""`python -m local_runner` as a child process on a free port: the system as users run it, for the tests and
benchmarks that drive it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_runner.azurite import terminate_with_parent


@dataclass
class RunnerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def peak_rss_mb(self) -> float:
        """The runner's peak resident memory so far (VmHWM), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc: not Linux?")


@contextmanager
def runner_process(
    root: Path, log: Path, settings: Mapping[str, str], *args: str, timeout: float = 30
) -> Iterator[RunnerProcess]:
    """The runner of the app in `root` with these settings (and no local.settings.json), its output in `log`;
    stopped on exit, which fails unless it stops cleanly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "local_runner", "--port", str(port), "--settings", str(log.with_suffix(".none"))]
    with log.open("wb") as out:
        # Bound to this process's life: no runner outlives a killed test run.
        process = subprocess.Popen(
            [*command, *args],
            cwd=root,
            env={**os.environ, **settings},
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=terminate_with_parent(),  # noqa: PLW1509 - it only calls prctl
        )
    try:
        deadline = time.monotonic() + timeout
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the runner did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield RunnerProcess(f"http://127.0.0.1:{port}", process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    if code != 0:
        raise RuntimeError(f"the runner did not stop cleanly (exit {code}):\n{log.read_text()[-3000:]}")


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
