"""Start and stop the Azurite storage emulator installed from package-lock.json (node_modules/.bin/azurite)."""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, and accepted by nothing but the emulator.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class Ports:
    blob: int = 10000
    queue: int = 10001
    table: int = 10002

    @classmethod
    def free(cls) -> Ports:
        return cls(*(_free_port() for _ in range(3)))


class Azurite:
    def __init__(self, location: Path, ports: Ports | None = None, host: str = "127.0.0.1", in_memory: bool = False):
        self.location = location
        self.ports = ports or Ports()
        self.host = host
        self.in_memory = in_memory
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def connection_string(self) -> str:
        # The explicit form: `UseDevelopmentStorage=true` only knows the default ports.
        base = f"http://{self.host}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.ports.blob}/{ACCOUNT};"
            f"QueueEndpoint={base}:{self.ports.queue}/{ACCOUNT};"
            f"TableEndpoint={base}:{self.ports.table}/{ACCOUNT};"
        )

    def start(self, timeout: float = 30.0) -> None:
        executable = ROOT / "node_modules" / ".bin" / "azurite"
        if not executable.exists():
            found = shutil.which("azurite")
            if found is None:
                raise FileNotFoundError("Azurite is not installed: run `npm ci` in the repository (make does it).")
            executable = Path(found)
        self.location.mkdir(parents=True, exist_ok=True)
        args = [
            str(executable),
            "--silent",
            "--disableTelemetry",
            # The newest storage SDKs send API versions that Azurite has not learned yet.
            "--skipApiVersionCheck",
            "--location", str(self.location),
            "--blobHost", self.host, "--blobPort", str(self.ports.blob),
            "--queueHost", self.host, "--queuePort", str(self.ports.queue),
            "--tableHost", self.host, "--tablePort", str(self.ports.table),
        ]  # fmt: skip
        if self.in_memory:
            args.append("--inMemoryPersistence")
        self._log = open(self.location / "azurite.log", "ab")  # noqa: SIM115 - closed in stop()
        # Its own session, so that Ctrl-C reaches the runner first and the runner stops it after the last
        # invocation; and, on Linux, bound to this process's life, so that no emulator outlives a killed test run.
        self._process = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.location,
            start_new_session=True,
            preexec_fn=terminate_with_parent(),  # noqa: PLW1509 - it only calls prctl
        )
        deadline = time.monotonic() + timeout
        for port in (self.ports.blob, self.ports.queue, self.ports.table):
            while not _accepts(self.host, port):
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"Azurite exited with {self._process.returncode}; see {self.location}/azurite.log"
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"Azurite did not open port {port} within {timeout:.0f}s")
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        """The emulator's process id, for measuring what it costs."""
        assert self._process is not None, "Azurite is not started"
        return self._process.pid

    def ports_in_use(self) -> bool:
        return any(_accepts(self.host, port) for port in (self.ports.blob, self.ports.queue, self.ports.table))

    def __enter__(self) -> Azurite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def terminate_with_parent() -> Callable[[], None] | None:
    """A Popen `preexec_fn` that has the kernel SIGTERM the child when its parent dies, even of SIGKILL (Linux).

    "Parent" is the thread that started the child: start long-lived children from the main thread.
    """
    if sys.platform != "linux":
        return None

    def bind() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return bind


def _accepts(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
