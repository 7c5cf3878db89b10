"""Many count jobs in flight on several lanes (one per API), results handed back by position.

CleverTap answers slowly (a `partial` query costs at least one 30 s poll) but allows a few
queries in flight per API, so jobs run on worker threads, a set of them per lane (an API's pool)
so that every pool stays full whichever stream the reader is on. The SDK, though, emits records
one partition after another and the bookmark may only move past a period once its record is
out: so results are read by position, in whatever order the reader asks, and a lane takes its
tasks lowest position first. Positions come in segments (a stream's stretch of the plan), each
read in order by its own reader; a lane never starts a task further than `window` positions past
the position its segment's reader is at. So the answers held for a segment, counted but waiting
for an earlier one, plus its jobs in flight, are never more than `window`: that bounds memory,
and what a SIGKILL loses (`delivery`). Tasks added mid-run (`add`: Trends, its fallbacks) are
not held back: they are needed before the positions around them can be read. Nothing is queued
beyond what is running: when the run stops (an error, or the reader went away) no further task
is started, and tasks in flight stop at their next request through the shared stop event.

A task is a callable that puts the results it learns (`put`), one or many positions at once (a
count shared by identical questions, a Trends series), and may queue further tasks (`add`).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Generic, TypeVar

from tap_clevertap_counts.errors import StoppedError

R = TypeVar("R")
Task = Callable[[], None]
_MISSING = object()


class _Lane:
    """One pool's queue: a feed in ascending position, plus tasks added as the run goes."""

    def __init__(self, feed: Iterator[tuple[int, Task]]) -> None:
        self._feed = feed
        self._head: tuple[int, Task] | None = None
        self._fed_all = False
        self.extra: list[tuple[int, int, Task]] = []

    def take(self, reachable: Callable[[int], bool]) -> Task | None:
        """The next task by position: the feed's, if `reachable` allows its position, or else
        an added one (never held back); None if neither."""
        if self._head is None and not self._fed_all:
            self._head = next(self._feed, None)
            self._fed_all = self._head is None
        head = self._head
        before_extra = head is not None and (not self.extra or head[0] <= self.extra[0][0])
        if head is not None and before_extra and reachable(head[0]):
            self._head = None
            return head[1]
        if self.extra:
            return heapq.heappop(self.extra)[2]
        return None


class LaneRunner(Generic[R]):
    """Run tasks on per-lane worker threads; `result(i)` waits for position `i`'s result."""

    def __init__(
        self,
        size: int,
        feeds: Mapping[str, Iterator[tuple[int, Task]]],
        workers: Mapping[str, int],
        *,
        window: int,
        stop: threading.Event,
        segments: Sequence[int] = (0,),
    ) -> None:
        self._size = size
        self._window = window
        # where each segment starts (ascending), and the lowest position its reader may
        # still ask for: the base of its window
        self._starts = list(segments)
        self._readers = list(segments)
        self._stop = stop
        self._cond = threading.Condition()
        self._lanes = {name: _Lane(feed) for name, feed in feeds.items()}
        self._seq = itertools.count()
        self._results: dict[int, R] = {}
        self._known = 0  # positions whose result was put (read or not)
        self._active = 0  # tasks running
        self._first_error: BaseException | None = None
        self._threads = [
            threading.Thread(
                target=self._worker, args=(lane,), name=f"clevertap-{lane}-{n}", daemon=True
            )
            for lane, count in workers.items()
            for n in range(count)
        ]

    def start(self) -> LaneRunner[R]:
        """Start the workers: apart from building, so that tasks may refer to the runner."""
        for thread in self._threads:
            thread.start()
        return self

    def add(self, lane: str, priority: int, task: Task) -> None:
        """Queue a task found necessary mid-run (a fallback); taken by its priority."""
        with self._cond:
            heapq.heappush(self._lanes[lane].extra, (priority, next(self._seq), task))
            self._cond.notify_all()

    def put(self, position: int, value: R) -> None:
        with self._cond:
            self._results[position] = value
            self._known += 1
            self._cond.notify_all()

    def _take(self, lane: str) -> Task | None:
        queue = self._lanes[lane]
        with self._cond:
            while True:
                if self._stop.is_set() or self._known >= self._size:
                    return None
                task = queue.take(self._reachable)
                if task is not None:
                    self._active += 1
                    return task
                self._cond.wait(timeout=0.5)

    def _segment(self, position: int) -> int:
        return max(0, bisect.bisect_right(self._starts, position) - 1)

    def _reachable(self, position: int) -> bool:
        """Whether `position` is within the window of its segment's reader (under the lock)."""
        return position < self._readers[self._segment(position)] + self._window

    def _worker(self, lane: str) -> None:
        while (task := self._take(lane)) is not None:
            try:
                task()
            except BaseException as exc:
                if not isinstance(exc, StoppedError):
                    with self._cond:
                        self._first_error = self._first_error or exc
                    self._stop.set()
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def result(self, position: int) -> R:
        """Position's result once known; the run's first error if it failed or stopped first."""
        segment = self._segment(position)
        with self._cond:
            self._readers[segment] = max(self._readers[segment], position)
            self._cond.notify_all()
            while position not in self._results:
                if self._stop.is_set() and self._active == 0:
                    break
                if not any(thread.is_alive() for thread in self._threads):
                    break
                self._cond.wait(timeout=0.5)
            value = self._results.pop(position, _MISSING)
            self._readers[segment] = max(self._readers[segment], position + 1)
            self._cond.notify_all()
            first_error = self._first_error
        if value is _MISSING:
            raise first_error or StoppedError("stopped")
        return value  # type: ignore[return-value]

    def close(self) -> None:
        """Stop starting tasks and make tasks in flight stop at their next request."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def _settled(self, position: int) -> bool:
        """Whether `result(position)` would return (or raise) without waiting; under the lock."""
        return (
            position in self._results
            or (self._stop.is_set() and self._active == 0)
            or not any(thread.is_alive() for thread in self._threads)
        )

    def ready(self, position: int) -> bool:
        with self._cond:
            return self._settled(position)

    def wait_any(self, positions: Sequence[int], timeout: float) -> None:
        """Until `result` of one of `positions` would not wait, or `timeout` seconds passed:
        a reader of several streams takes whichever is ready, never waiting on one while
        another's results pile up."""
        with self._cond:
            self._cond.wait_for(lambda: any(map(self._settled, positions)), timeout=timeout)

    def busy_workers(self) -> int:
        with self._cond:
            return sum(1 for thread in self._threads if thread.is_alive())
