"""The emulator the tests, the benchmarks and `make run` start is never left running behind them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STARTER = """
import sys, time
from pathlib import Path
from local_runner.azurite import Azurite, Ports
emulator = Azurite(Path(sys.argv[1]), Ports.free())
emulator.start()
print(emulator.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait() is missing


@pytest.mark.skipif(sys.platform != "linux", reason="the emulator is bound to its parent's life with Linux prctl")
def test_azurite_stops_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    pid = int(starter.stdout.readline())
    assert alive(pid)
    starter.send_signal(signal.SIGKILL)  # no finally, no atexit: only the kernel can clean up
    starter.wait()
    deadline = time.monotonic() + 15
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), f"Azurite (pid {pid}) outlived the process that started it"
