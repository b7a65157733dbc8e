from __future__ import annotations

import threading
import time

from tagging.memory import DecodeBudget


def _hold(budget: DecodeBudget, cost: int, limit: int, seen: list[int], release: threading.Event) -> None:
    with budget.reserve(cost, limit):
        seen.append(budget.in_use)
        release.wait(5)


def test_small_decodes_share_the_budget_and_large_ones_take_turns() -> None:
    budget, release, seen = DecodeBudget(), threading.Event(), []
    small = [threading.Thread(target=_hold, args=(budget, 30, 100, seen, release)) for _ in range(3)]
    for thread in small:
        thread.start()
    deadline = time.monotonic() + 5
    while budget.in_use < 90 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert budget.in_use == 90  # three at once: they fit
    large = threading.Thread(target=_hold, args=(budget, 60, 100, seen, release))
    large.start()
    time.sleep(0.1)
    assert budget.in_use == 90, "the large decode must wait for room"
    release.set()
    for thread in [*small, large]:
        thread.join(5)
    assert budget.in_use == 0
    assert max(seen) <= 100


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
