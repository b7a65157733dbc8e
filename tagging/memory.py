"""How much decoded pixel memory one worker process holds at once.

The host runs several queue messages at once in one process (batchSize + newBatchThreshold), and a 100 MP image
takes up to 400 MB once decoded: five of them together would exhaust an instance. Decoding therefore reserves
its estimated bytes from one budget per process, the size of the largest image the pixel limit admits, so that
many small images decode side by side while the large ones take turns. No I/O here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DecodeBudget:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_use = 0
        self._waiting = 0

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._in_use

    @property
    def waiting(self) -> int:
        """How many decodes wait for room: a sign that large images are queueing behind each other."""
        with self._changed:
            return self._waiting

    @contextmanager
    def reserve(self, cost: int, limit: int) -> Iterator[None]:
        """Hold `cost` bytes of `limit` while the block runs, waiting until they are free.

        A cost above the limit is held as the whole limit (the image decodes alone), so nothing waits forever.
        """
        cost = max(0, min(cost, limit))
        with self._changed:
            self._waiting += 1
            self._changed.wait_for(lambda: self._in_use == 0 or self._in_use + cost <= limit)
            self._waiting -= 1
            self._in_use += cost
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= cost
                self._changed.notify_all()


# One per process: the budget is about this process's memory, whichever function decodes.
decode_budget = DecodeBudget()
