from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tagging.memory import DecodeBudget


def _hold(budget: DecodeBudget, cost: int, limit: int, seen: list[int], release: threading.Event) -> None:
    with budget.reserve(cost, limit):
        seen.append(budget.in_use)
        release.wait(5)


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition was not met in time"
        time.sleep(0.005)


def test_small_decodes_share_the_budget_and_large_ones_take_turns() -> None:
    budget, release, seen = DecodeBudget(), threading.Event(), []
    small = [threading.Thread(target=_hold, args=(budget, 30, 100, seen, release)) for _ in range(3)]
    for thread in small:
        thread.start()
    _until(lambda: budget.in_use == 90)  # three at once: they fit
    large = threading.Thread(target=_hold, args=(budget, 60, 100, seen, release))
    large.start()
    _until(lambda: budget.waiting == 1)  # the large decode has asked, and waits for room
    assert budget.in_use == 90
    release.set()
    for thread in [*small, large]:
        thread.join(5)
    assert budget.in_use == 0
    assert budget.waiting == 0
    # What was in use as each began: the three small ones side by side, then the large one with at most one
    # small one still there.
    assert seen[:3] == [30, 60, 90]
    assert seen[3] in (60, 90)


def test_a_decode_larger_than_the_budget_runs_alone_rather_than_never() -> None:
    budget = DecodeBudget()
    with budget.reserve(500, 100):
        assert budget.in_use == 100
    assert budget.in_use == 0


def test_a_failed_decode_gives_its_reservation_back() -> None:
    budget = DecodeBudget()
    try:
        with budget.reserve(40, 100):
            raise ValueError("damaged")
    except ValueError:
        pass
    assert budget.in_use == 0
