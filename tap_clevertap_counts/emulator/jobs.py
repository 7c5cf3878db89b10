"""Pending (`partial`) jobs and the concurrency CleverTap enforces per account and API.

CleverTap counts a query against the account's 3 concurrent requests of that API (or of the
whole account, when the emulator is told to share one limit) for as long as it runs, not
just while its HTTP request is open, so a partial job keeps its slot until it finishes. Slots are
released before an answer's bytes are written: a client that reacts instantly to one answer must
never see its own finished request still counted.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
import threading
import time
from collections.abc import Callable
from typing import Any

_SWEEP_EVERY = 256


@dataclasses.dataclass
class Job:
    """One accepted `partial` query, with its fate decided at submission (seeded)."""

    req_id: int
    account: str
    endpoint: str
    count: int
    done_at: float
    fails: bool
    expire_at_first_poll: bool
    pending_slot: bool = True
    payload: dict[str, Any] | None = None  # a whole answer (a Trends series) instead of a count


class JobBook:
    """Jobs by req_id, plus who holds which concurrency slot; one lock guards all of it."""

    def __init__(self, seed: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(f"{seed}|jobs")
        self._jobs: dict[int, Job] = {}
        self._finishing: list[tuple[float, int]] = []
        self._pending: dict[str, int] = {}
        self._processing: dict[str, int] = {}
        self._peak = 0
        self._created = 0

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(f"{seed}|jobs")

    @property
    def peak(self) -> int:
        with self._lock:
            return self._peak

    def now(self) -> float:
        return self._clock()

    def running(self) -> int:
        """Jobs accepted and not yet ended, over all accounts and APIs."""
        with self._lock:
            self._settle(self._clock())
            return sum(self._pending.values())

    def _settle(self, now: float) -> None:
        """Give back the slots of jobs whose time has come (caller holds the lock)."""
        while self._finishing and self._finishing[0][0] <= now:
            _, req_id = heapq.heappop(self._finishing)
            job = self._jobs.get(req_id)
            if job is not None:
                self._release_job(job)

    def _release_job(self, job: Job) -> None:
        if job.pending_slot:
            job.pending_slot = False
            self._pending[job.account] -= 1

    def _load(self, account: str) -> int:
        return self._pending.get(account, 0) + self._processing.get(account, 0)

    def load(self, account: str) -> int:
        """Slots the account holds right now: unfinished jobs plus requests being answered."""
        with self._lock:
            self._settle(self._clock())
            return self._load(account)

    def arrive(self, account: str) -> int:
        """Take a slot for a request being processed; returns the load including it."""
        with self._lock:
            self._settle(self._clock())
            self._processing[account] = self._processing.get(account, 0) + 1
            load = self._load(account)
            self._peak = max(self._peak, load)
            return load

    def leave(self, account: str) -> None:
        with self._lock:
            self._processing[account] -= 1

    def decide(
        self, partial_share: float, async_fail_share: float, expire_share: float
    ) -> tuple[bool, bool, bool]:
        """(partial?, fails?, expires at first poll?) from the seeded job generator."""
        with self._lock:
            partial = self._rng.random() < partial_share
            fails = self._rng.random() < async_fail_share
            expires = self._rng.random() < expire_share
        return partial, fails, expires

    def start_job(
        self,
        *,
        account: str,
        endpoint: str,
        count: int,
        job_seconds: float,
        fails: bool,
        expires: bool,
        ttl: float,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Turn the request's slot into the job's slot in one step, so nobody sees both."""
        with self._lock:
            now = self._clock()
            req_id = self._rng.randrange(10**14, 10**15)
            while req_id in self._jobs:
                req_id = self._rng.randrange(10**14, 10**15)
            job = Job(
                req_id, account, endpoint, count, now + job_seconds, fails, expires, payload=payload
            )
            self._jobs[req_id] = job
            self._processing[account] -= 1
            self._pending[account] = self._pending.get(account, 0) + 1
            heapq.heappush(self._finishing, (job.done_at, req_id))
            self._settle(now)
            self._created += 1
            if self._created % _SWEEP_EVERY == 0:
                self._sweep(now, ttl)
            return req_id

    def _sweep(self, now: float, ttl: float) -> None:
        for req_id in [r for r, job in self._jobs.items() if now > job.done_at + ttl]:
            self._jobs.pop(req_id)

    def is_pending(self, req_id: int | None, account: str) -> bool:
        """Whether a poll is for a job still running: such a poll takes no slot of its own."""
        if req_id is None:
            return False
        with self._lock:
            self._settle(self._clock())
            job = self._jobs.get(req_id)
            return job is not None and job.account == account and job.pending_slot

    def poll(self, req_id: int, account: str, endpoint: str, ttl: float) -> Job | None:
        """The job a poll is about, or None when unknown, expired or forced to expire.

        A job that is gone no longer runs, so it gives its slot back too.
        """
        with self._lock:
            now = self._clock()
            self._settle(now)
            job = self._jobs.get(req_id)
            if job is None or job.account != account or job.endpoint != endpoint:
                return None
            if job.expire_at_first_poll or now > job.done_at + ttl:
                self._release_job(job)
                del self._jobs[req_id]
                return None
            return dataclasses.replace(job)

    def finished(self, job: Job) -> bool:
        return self._clock() >= job.done_at
