"""AdaptiveLimiter: slots, shrinking on 429, probing back up, lowest priority first (with the
client and the emulator: test_limiter_backfill.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from tap_clevertap_counts.api.limiter import AdaptiveLimiter
from tap_clevertap_counts.errors import StoppedError

DEADLINE = 10.0  # only ever reached when the limiter is broken


class Waiters:
    """Threads blocked in `acquire`, recording the order in which they got their slot."""

    def __init__(self, limiter: AdaptiveLimiter, stop: threading.Event | None = None) -> None:
        self.limiter = limiter
        self.stop = stop or threading.Event()
        self.order: list[int] = []
        self.errors: list[BaseException] = []
        self.cond = threading.Condition()
        self.threads: list[threading.Thread] = []

    def _acquire(self, priority: int) -> None:
        try:
            self.limiter.acquire(priority, self.stop)
        except BaseException as exc:
            with self.cond:
                self.errors.append(exc)
                self.cond.notify_all()
            return
        with self.cond:
            self.order.append(priority)
            self.cond.notify_all()

    def start(self, *priorities: int) -> None:
        """Start one waiter per priority and return once all of them are queued."""
        for priority in priorities:
            thread = threading.Thread(target=self._acquire, args=(priority,), daemon=True)
            thread.start()
            self.threads.append(thread)
        expected = len(priorities)
        wait_until(lambda: queued(self.limiter) >= expected, f"{expected} waiters queued")

    def wait_got(self, count: int) -> list[int]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.order) >= count, DEADLINE):
                raise AssertionError(f"only {self.order} got a slot, expected {count}")
            return list(self.order)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(DEADLINE)
            assert not thread.is_alive()


def queued(limiter: AdaptiveLimiter) -> int:
    """How many callers wait in `acquire` (the limiter's heap of waiting priorities)."""
    with limiter._cond:
        return len(limiter._waiting)


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    event = threading.Event()
    for _ in range(int(DEADLINE / 0.001)):
        if predicate():
            return
        event.wait(0.001)
    raise AssertionError(f"never happened: {what}")


def fill(limiter: AdaptiveLimiter, count: int) -> None:
    stop = threading.Event()
    for priority in range(count):
        limiter.acquire(priority, stop)


def test_slots_are_never_exceeded_and_a_release_lets_one_waiter_in() -> None:
    limiter = AdaptiveLimiter(3)
    fill(limiter, 3)
    assert limiter.holders == 3
    waiters = Waiters(limiter)
    waiters.start(10, 11)
    assert waiters.order == [], "no slot beyond the limit"
    limiter.release(clean=True)
    assert waiters.wait_got(1) == [10]
    assert limiter.holders == 3
    assert waiters.order == [10], "one release, one waiter in"
    limiter.release(clean=True)
    assert waiters.wait_got(2) == [10, 11]
    waiters.join()
    assert limiter.peak == 3


def test_free_slots_go_lowest_priority_first() -> None:
    """Waiting jobs get slots in emission order (their index), not in arrival order."""
    limiter = AdaptiveLimiter(1)
    fill(limiter, 1)
    waiters = Waiters(limiter)
    waiters.start(9)
    waiters.start(4)
    waiters.start(7)
    waiters.start(2)
    for got in range(1, 5):
        limiter.release(clean=True)
        waiters.wait_got(got)
    assert waiters.order == [2, 4, 7, 9]
    waiters.join()


def test_a_free_slot_is_not_taken_past_a_lower_priority_waiter() -> None:
    limiter = AdaptiveLimiter(2)
    fill(limiter, 2)
    waiters = Waiters(limiter)
    waiters.start(5)
    limiter.release(clean=True)
    assert waiters.wait_got(1) == [5]
    limiter.release(clean=True)
    stop = threading.Event()
    limiter.acquire(6, stop)  # nobody waits: the free slot is taken at once
    assert limiter.holders == 2


def test_a_429_shrinks_the_limit_to_the_slots_really_accepted() -> None:
    limiter = AdaptiveLimiter(6)
    fill(limiter, 6)
    # Three of six submits get 429: each drops the limit below the holders left.
    for expected in (5, 4, 3):
        assert limiter.throttled() is True, "others hold slots: wait for one of them"
        assert limiter.limit == expected
        limiter.release(clean=False)  # the throttled caller gives its slot back
    assert limiter.holders == 3
    assert limiter.throttles == 3
    waiters = Waiters(limiter)
    waiters.start(6)
    limiter.release(clean=True)
    assert waiters.wait_got(1) == [6]
    assert limiter.holders == 3, "the shrunk limit holds"
    waiters.start(7)
    assert waiters.order == [6]


def test_a_lone_429_keeps_at_least_one_slot() -> None:
    limiter = AdaptiveLimiter(3)
    fill(limiter, 1)
    assert limiter.throttled() is False, "nobody else will free a slot: back off instead"
    assert limiter.limit == 1
    assert limiter.throttled() is False
    assert limiter.limit == 1


def test_the_limit_probes_one_higher_after_a_run_of_clean_completions() -> None:
    limiter = AdaptiveLimiter(4, recover_after=5)
    fill(limiter, 4)
    for _ in range(2):
        limiter.throttled()
        limiter.release(clean=False)  # a throttled job's slot back: not a clean completion
    assert limiter.limit == 2
    for _ in range(2):
        limiter.release(clean=False)  # failed jobs do not count as clean either
    stop = threading.Event()
    for done in range(1, 5):
        limiter.acquire(done, stop)
        limiter.release(clean=True)
        assert limiter.limit == 2, f"not yet after {done} clean completions"
    limiter.acquire(5, stop)
    limiter.release(clean=True)
    assert limiter.limit == 3, "one higher after recover_after clean completions"
    for n in range(5):
        limiter.acquire(10 + n, stop)
        limiter.release(clean=True)
    assert limiter.limit == 4
    for n in range(20):
        limiter.acquire(20 + n, stop)
        limiter.release(clean=True)
    assert limiter.limit == 4, "never above max_slots"


def test_a_429_restarts_the_count_towards_probing() -> None:
    limiter = AdaptiveLimiter(3, recover_after=4)
    stop = threading.Event()
    fill(limiter, 3)
    limiter.throttled()
    for _ in range(3):
        limiter.release(clean=False)
    for n in range(3):
        limiter.acquire(n, stop)
        limiter.release(clean=True)
    assert limiter.limit == 2, "3 clean completions of 4 needed"
    limiter.acquire(3, stop)
    limiter.acquire(4, stop)
    limiter.throttled()
    limiter.release(clean=False)
    assert limiter.limit == 1
    limiter.release(clean=True)
    for n in range(2):
        limiter.acquire(10 + n, stop)
        limiter.release(clean=True)
    assert limiter.limit == 1, "the clean streak started again after the 429"
    limiter.acquire(20, stop)
    limiter.release(clean=True)
    assert limiter.limit == 2


def test_a_throttled_job_requeues_with_its_priority() -> None:
    """After a 429 the job waits for the next free slot, ahead of jobs with later indexes."""
    limiter = AdaptiveLimiter(3)
    fill(limiter, 3)  # priorities 0, 1, 2
    waiters = Waiters(limiter)
    waiters.start(3, 4)
    assert limiter.throttled() is True
    yielded = threading.Thread(target=limiter.yield_slot, args=(1, waiters.stop), daemon=True)
    yielded.start()
    wait_until(lambda: queued(limiter) == 3, "the throttled job queued again")
    assert limiter.holders == 2 and limiter.limit == 2
    limiter.release(clean=True)  # a job in flight ends
    yielded.join(DEADLINE)
    assert not yielded.is_alive(), "the throttled job got the freed slot first"
    assert waiters.order == []


def test_a_stop_wakes_every_waiter() -> None:
    limiter = AdaptiveLimiter(1)
    fill(limiter, 1)
    waiters = Waiters(limiter)
    waiters.start(1, 2, 3)
    waiters.stop.set()
    waiters.join()
    assert len(waiters.errors) == 3
    assert all(isinstance(error, StoppedError) for error in waiters.errors)
    assert queued(limiter) == 0
    assert limiter.holders == 1


def test_max_slots_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveLimiter(0)


# --- together, against the emulator's limit --------------------------------------------
