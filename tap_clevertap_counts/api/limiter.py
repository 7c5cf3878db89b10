"""How many count queries may be in flight, learned from CleverTap's 429s.

CleverTap allows a fixed number of concurrent count queries per account (3 for this API) and
says so only by answering 429 to the one too many; other clients of the same account use the
same slots. A job holds a slot from its submission until its count is known (a `partial` job
keeps occupying CleverTap's slot while it computes). On a 429 the limit drops to what was
really accepted; after a run of clean completions it probes one higher again, so a transient
neighbour does not slow a whole backfill. Waiting jobs get a free slot lowest-priority-first,
which is the order the stream emits records, so state advances steadily.
"""

from __future__ import annotations

import heapq
import threading

from tap_clevertap_counts.errors import StoppedError


class AdaptiveLimiter:
    """A counting semaphore whose size shrinks on 429 and recovers slowly."""

    def __init__(self, max_slots: int, recover_after: int | None = None) -> None:
        if max_slots < 1:
            msg = "max_slots must be at least 1"
            raise ValueError(msg)
        self.max_slots = max_slots
        self._limit = max_slots
        self._recover_after = recover_after or 10 * max_slots
        self._clean_streak = 0
        self._holders = 0
        self._waiting: list[int] = []
        self._cond = threading.Condition()
        self.peak = 0
        self.throttles = 0

    @property
    def limit(self) -> int:
        with self._cond:
            return self._limit

    @property
    def holders(self) -> int:
        with self._cond:
            return self._holders

    def acquire(self, priority: int, stop: threading.Event) -> None:
        """Block until a slot is free and no waiter with a lower priority is ahead."""
        with self._cond:
            heapq.heappush(self._waiting, priority)
            try:
                while not (self._holders < self._limit and self._waiting[0] == priority):
                    if stop.is_set():
                        raise StoppedError("stopping")
                    self._cond.wait(timeout=0.5)
                if stop.is_set():
                    raise StoppedError("stopping")
            finally:
                self._waiting.remove(priority)
                heapq.heapify(self._waiting)
                self._cond.notify_all()
            self._holders += 1
            self.peak = max(self.peak, self._holders)

    def release(self, *, clean: bool) -> None:
        """Give a slot back; `clean` completions count towards probing a higher limit."""
        with self._cond:
            self._holders -= 1
            if clean:
                self._clean_streak += 1
                if self._limit < self.max_slots and self._clean_streak >= self._recover_after:
                    self._limit += 1
                    self._clean_streak = 0
            self._cond.notify_all()

    def throttled(self) -> bool:
        """Record a 429 for a slot holder; True if other holders will free a slot later.

        The caller keeps its slot; the limit drops below the current holders so that the
        caller's next `yield_slot` waits for one of them to finish.
        """
        with self._cond:
            self.throttles += 1
            self._clean_streak = 0
            self._limit = max(1, min(self._limit, self._holders - 1))
            return self._holders > 1

    def yield_slot(self, priority: int, stop: threading.Event) -> None:
        """Give the slot back and queue for the next free one (after a 429)."""
        self.release(clean=False)
        self.acquire(priority, stop)
