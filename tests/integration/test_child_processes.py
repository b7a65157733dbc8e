"""The emulator and runners that the tests, the benchmarks and `make run` start never outlive them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

AZURITE = """
import sys, time
from pathlib import Path
from local_runner.azurite import Azurite, Ports
emulator = Azurite(Path(sys.argv[1]), Ports.free())
emulator.start()
print(emulator.pid, flush=True)
time.sleep(600)
"""

# A runner as tests/stack.py starts it; no storage is needed for it to come up.
RUNNER = """
import sys, time
from pathlib import Path
from local_runner.azurite import Azurite, Ports
from tests.stack import running_stack
folder = Path(sys.argv[1])
with running_stack(Azurite(folder, Ports.free()).connection_string, Path.cwd(), folder / "log") as stack:
    print(stack.process.pid, flush=True)
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait() is missing


@pytest.mark.skipif(sys.platform != "linux", reason="children are bound to their parent's life with Linux prctl")
@pytest.mark.parametrize("starter_code", [AZURITE, RUNNER], ids=["azurite", "runner"])
def test_a_child_stops_when_the_process_that_started_it_is_killed(tmp_path: Path, starter_code: str) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", starter_code, str(tmp_path)],
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
    assert not alive(pid), f"pid {pid} outlived the process that started it"
