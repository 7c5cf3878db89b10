"""Many count jobs in flight, results handed back strictly in order.

CleverTap answers slowly (a `partial` query costs at least one 30 s poll) but allows several
queries in flight, so jobs run on a few worker threads. The SDK, though, emits records one
partition after another and the bookmark may only move past a period once its record is out:
so results are consumed in job order, and workers may run ahead of the consumer by at most
`window` jobs (memory stays flat however long the backfill). Nothing is queued beyond what is
running: when the run stops (an error, or the reader went away) no further job is started, and
jobs in flight stop at their next request through the shared stop event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from .errors import StoppedError

J = TypeVar("J")
R = TypeVar("R")


class OrderedRunner(Generic[J, R]):
    """Run `work(job, index)` for every job on `workers` threads; iterate results in order."""

    def __init__(
        self,
        jobs: Sequence[J],
        work: Callable[[J, int], R],
        *,
        workers: int,
        window: int,
        stop: threading.Event,
    ) -> None:
        self._jobs = jobs
        self._work = work
        self._window = max(window, workers)
        self._stop = stop
        self._cond = threading.Condition()
        self._results: dict[int, tuple[bool, R | BaseException]] = {}
        self._next = 0  # next job a worker takes
        self._consumed = 0  # jobs handed to the reader
        self._first_error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._worker, name=f"clevertap-job-{n}", daemon=True)
            for n in range(min(workers, len(jobs)))
        ]
        for thread in self._threads:
            thread.start()

    def _take(self) -> int | None:
        with self._cond:
            while (
                not self._stop.is_set()
                and self._next < len(self._jobs)
                and self._next >= self._consumed + self._window
            ):
                self._cond.wait(timeout=0.5)
            if self._stop.is_set() or self._next >= len(self._jobs):
                return None
            index = self._next
            self._next += 1
            return index

    def _worker(self) -> None:
        while (index := self._take()) is not None:
            outcome: tuple[bool, R | BaseException]
            try:
                outcome = (True, self._work(self._jobs[index], index))
            except BaseException as exc:
                outcome = (False, exc)
                if not isinstance(exc, StoppedError):
                    with self._cond:
                        self._first_error = self._first_error or exc
                    self._stop.set()
            with self._cond:
                self._results[index] = outcome
                self._cond.notify_all()

    def __iter__(self) -> Iterator[tuple[J, R]]:
        for index, job in enumerate(self._jobs):
            with self._cond:
                while index not in self._results:
                    if not any(thread.is_alive() for thread in self._threads):
                        break
                    self._cond.wait(timeout=0.5)
                ok, value = self._results.pop(index, (False, StoppedError("stopped")))
                self._consumed = index + 1
                self._cond.notify_all()
                first_error = self._first_error
            if not ok:
                assert isinstance(value, BaseException)
                raise first_error or value
            yield job, value  # type: ignore[misc]

    def close(self) -> None:
        """Stop starting jobs and make jobs in flight stop at their next request."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def busy_workers(self) -> int:
        with self._cond:
            return sum(1 for thread in self._threads if thread.is_alive())
