"""LaneRunner on one lane, with work that blocks on events the test controls: no clock, no
sleeps to measure. Each test says exactly which jobs may start when, and checks that no others did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

import pytest

from tap_clevertap_counts.api.scheduler import LaneRunner
from tap_clevertap_counts.errors import StoppedError

DEADLINE = 10.0  # only ever reached when the runner is broken
J = TypeVar("J")
R = TypeVar("R")


class OneLane(Generic[J, R]):
    """`work(job, index)` for every job, on one lane of `workers` threads, read back in order:
    a run's lanes without the planning around them, so a test drives every start and end."""

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
        feed = ((index, partial(self._do, index)) for index in range(len(jobs)))
        self._lanes: LaneRunner[R] = LaneRunner(
            len(jobs),
            {"jobs": feed},
            {"jobs": min(workers, len(jobs))},
            window=max(window, workers),
            stop=stop,
        )
        self._lanes.start()

    def _do(self, index: int) -> None:
        self._lanes.put(index, self._work(self._jobs[index], index))

    def __iter__(self) -> Iterator[tuple[J, R]]:
        for index, job in enumerate(self._jobs):
            yield job, self._lanes.result(index)

    def close(self) -> None:
        self._lanes.close()

    def busy_workers(self) -> int:
        return self._lanes.busy_workers()


class Boom(Exception):
    """The failure a job raises in these tests."""


@dataclass
class Gate:
    """Jobs that run until the test releases them; counts what is in flight, and the peak."""

    workers: int
    stop: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)
    started: list[int] = field(default_factory=list)
    running: set[int] = field(default_factory=set)
    peak: int = 0
    released: dict[int, str] = field(default_factory=dict)  # index -> "ok" | "fail"
    stopped_seen: list[int] = field(default_factory=list)

    def work(self, job: str, index: int) -> str:
        with self.cond:
            self.started.append(index)
            self.running.add(index)
            self.peak = max(self.peak, len(self.running))
            self.cond.notify_all()
            try:
                while index not in self.released:
                    if not self.cond.wait(DEADLINE):
                        raise AssertionError(f"job {index} was never released")
                how = self.released[index]
            finally:
                self.running.discard(index)
                self.cond.notify_all()
        if how == "fail":
            raise Boom(f"job {index} failed")
        if self.stop.is_set():
            # As the client does: a job in flight sends nothing more once the run stops.
            self.stopped_seen.append(index)
            raise StoppedError("stopping")
        return job.upper()

    def release(self, index: int, how: str = "ok") -> None:
        with self.cond:
            self.released[index] = how
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, DEADLINE):
                raise AssertionError(f"never happened: {what}")

    def wait_running(self, expected: set[int]) -> None:
        self.wait_for(lambda: self.running == expected, f"running == {sorted(expected)}")


def make_jobs(count: int) -> list[str]:
    return [f"job{n}" for n in range(count)]


def runner(gate: Gate, jobs: list[str], window: int = 64) -> OneLane[str, str]:
    return OneLane(jobs, gate.work, workers=gate.workers, window=window, stop=gate.stop)


class Reader:
    """Iterates a runner on its own thread, as the SDK's record loop does."""

    def __init__(self, results: Iterator[tuple[str, str]]) -> None:
        self.results: list[tuple[str, str]] = []
        self.error: BaseException | None = None
        self._iterator = results
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for item in self._iterator:
                self.results.append(item)
        except BaseException as exc:
            self.error = exc

    def join(self) -> None:
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the reader never finished"


def test_every_slot_stays_busy_while_work_remains_and_never_more() -> None:
    """Whichever job ends, the next one starts at once; never more than `workers` at once."""
    gate = Gate(workers=3)
    jobs = make_jobs(12)
    run = runner(gate, jobs)
    reader = Reader(iter(run))
    gate.wait_running({0, 1, 2})
    # Out of order, as CleverTap finishes them: each end starts exactly the next job.
    for ended, now_running in [
        (1, {0, 2, 3}),
        (3, {0, 2, 4}),
        (0, {2, 4, 5}),
        (5, {2, 4, 6}),
        (2, {4, 6, 7}),
        (4, {6, 7, 8}),
        (8, {6, 7, 9}),
        (6, {7, 9, 10}),
        (9, {7, 10, 11}),
    ]:
        gate.release(ended)
        gate.wait_running(now_running)
    # Nothing left to start: the slots drain.
    for ended, now_running in [(10, {7, 11}), (7, {11}), (11, set())]:
        gate.release(ended)
        gate.wait_running(now_running)
    reader.join()
    assert reader.error is None
    assert gate.peak == 3
    assert gate.started == list(range(12)), "jobs start in order, each exactly once"
    assert reader.results == [(job, job.upper()) for job in jobs], "results in job order"


def test_results_come_back_in_order_whatever_order_jobs_end_in() -> None:
    gate = Gate(workers=4)
    jobs = make_jobs(4)
    run = runner(gate, jobs)
    reader = Reader(iter(run))
    gate.wait_running({0, 1, 2, 3})
    for index in (3, 2, 1):
        gate.release(index)
    gate.wait_running({0})
    assert reader.results == [], "nothing is handed out before the first job's result"
    gate.release(0)
    reader.join()
    assert [job for job, _ in reader.results] == jobs


def test_never_more_threads_than_jobs() -> None:
    gate = Gate(workers=6)
    run = runner(gate, make_jobs(2))
    assert run.busy_workers() <= 2
    gate.release(0)
    gate.release(1)
    assert [result for _, result in run] == ["JOB0", "JOB1"]
    assert gate.peak == 2


def test_workers_run_ahead_of_the_reader_by_at_most_the_window() -> None:
    gate = Gate(workers=2)
    for index in range(20):
        gate.release(index)  # every job ends at once
    run = runner(gate, make_jobs(20), window=5)
    gate.wait_for(lambda: len(gate.started) == 5, "the window filled")
    results = iter(run)
    assert next(results) == ("job0", "JOB0")
    gate.wait_for(lambda: len(gate.started) == 6, "one more job after one was read")
    assert gate.started == list(range(6))
    assert [job for job, _ in results] == make_jobs(20)[1:]


def test_after_a_failure_no_new_job_starts_and_the_first_error_is_raised() -> None:
    gate = Gate(workers=3)
    run = runner(gate, make_jobs(10))
    reader = Reader(iter(run))
    gate.wait_running({0, 1, 2})
    gate.release(0)
    gate.wait_running({1, 2, 3})
    gate.release(2, "fail")
    gate.wait_running({1, 3})
    assert gate.stop.is_set(), "a failure stops the run for every worker"
    gate.release(1)
    gate.release(3)
    reader.join()
    assert isinstance(reader.error, Boom), "the failure is raised, not the stops it caused"
    assert reader.results == [("job0", "JOB0")], "the results before the failure are out"
    assert sorted(gate.started) == [0, 1, 2, 3], "no job started after the failure"
    assert sorted(gate.stopped_seen) == [1, 3], "jobs in flight stop at their next request"
    # the reader may see the error while the last worker is still on its way out
    deadline = time.monotonic() + DEADLINE
    while run.busy_workers() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert run.busy_workers() == 0, "every worker ends after a failure"


def test_an_abandoned_iteration_stops_the_workers() -> None:
    """The SDK's standard suite reads one record and walks away: close() must end it all."""
    gate = Gate(workers=3)
    run = runner(gate, make_jobs(30))
    results = iter(run)
    gate.wait_running({0, 1, 2})
    gate.release(0)
    assert next(results) == ("job0", "JOB0")
    gate.wait_running({1, 2, 3})
    run.close()
    assert gate.stop.is_set()
    for index in (1, 2, 3):
        gate.release(index)
    gate.wait_for(lambda: run.busy_workers() == 0, "every worker thread ended")
    assert gate.started == [0, 1, 2, 3], "no job started after close()"
    assert sorted(gate.stopped_seen) == [1, 2, 3]


def test_a_stop_from_outside_ends_the_iteration_with_stopped() -> None:
    gate = Gate(workers=2)
    run = runner(gate, make_jobs(5))
    gate.wait_running({0, 1})
    gate.stop.set()
    gate.release(0)
    gate.release(1)
    with pytest.raises(StoppedError):
        list(run)
    assert gate.started == [0, 1]
