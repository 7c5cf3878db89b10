"""LaneRunner (a pool per API): each lane fills its own workers whatever the reader is waiting
for, a task added mid-run goes before the feed's later positions, and results are read by
position. Work blocks on events the test releases: no clock, no sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial

from tap_clevertap_counts.api.scheduler import LaneRunner, Task

DEADLINE = 10.0  # only ever reached when the runner is broken


class Gate:
    """Tasks that run until released; records which started, in order."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.started: list[str] = []
        self.running: set[str] = set()
        self.released: set[str] = set()

    def work(self, runner: LaneRunner[str], name: str, positions: tuple[int, ...]) -> None:
        with self.cond:
            self.started.append(name)
            self.running.add(name)
            self.cond.notify_all()
            if not self.cond.wait_for(lambda: name in self.released, DEADLINE):
                raise AssertionError(f"{name} was never released")
            self.running.discard(name)
            self.cond.notify_all()  # a test may wait for a task to end, not only to start
        for position in positions:
            runner.put(position, name)

    def release(self, *names: str) -> None:
        with self.cond:
            self.released.update(names)
            self.cond.notify_all()

    def wait_running(self, expected: set[str]) -> None:
        with self.cond:
            ok = self.cond.wait_for(lambda: self.running == expected, DEADLINE)
            assert ok, f"running {sorted(self.running)}, expected {sorted(expected)}"


def feed(
    gate: Gate, box: list[LaneRunner[str]], lane: str, positions: range
) -> Iterator[tuple[int, Task]]:
    for position in positions:
        yield position, partial(lambda p: gate.work(box[0], f"{lane}{p}", (p,)), position)


def test_each_lane_fills_its_own_workers_from_the_start() -> None:
    gate = Gate()
    box: list[LaneRunner[str]] = []  # the runner, once built: its tasks put into it
    stop = threading.Event()
    runner: LaneRunner[str] = LaneRunner(
        8,
        {"a": feed(gate, box, "a", range(4)), "b": feed(gate, box, "b", range(4, 8))},
        {"a": 2, "b": 2},
        window=8,
        stop=stop,
    )
    box.append(runner)
    runner.start()
    # the reader has asked nothing yet: both pools are full at once
    gate.wait_running({"a0", "a1", "b4", "b5"})
    gate.release("b5")
    gate.wait_running({"a0", "a1", "b4", "b6"})  # lane b refills itself; lane a untouched
    gate.release(*(f"a{n}" for n in range(4)), *(f"b{n}" for n in range(4, 8)))
    assert [runner.result(n) for n in range(8)] == [
        *(f"a{n}" for n in range(4)),
        *(f"b{n}" for n in range(4, 8)),
    ]
    assert not stop.is_set()


def test_a_task_added_mid_run_goes_before_later_positions_and_may_put_many() -> None:
    gate = Gate()
    box: list[LaneRunner[str]] = []  # the runner, once built: its tasks put into it
    runner: LaneRunner[str] = LaneRunner(
        6,
        {"a": feed(gate, box, "a", range(2, 6))},
        {"a": 1},
        window=6,
        stop=threading.Event(),
    )
    box.append(runner)
    runner.start()
    gate.wait_running({"a2"})
    # a series (positions 0 and 1 at once), found necessary at priority 0
    runner.add("a", 0, partial(gate.work, runner, "series", (0, 1)))
    gate.release("a2")
    gate.wait_running({"series"})
    gate.release("series", "a3", "a4", "a5")
    assert [runner.result(n) for n in range(6)] == ["series", "series", "a2", "a3", "a4", "a5"]
    assert gate.started == ["a2", "series", "a3", "a4", "a5"]


def test_each_segment_runs_ahead_of_its_own_reader_by_at_most_the_window() -> None:
    """Segments (streams) a = 0-5 and b = 6-11, window 3: b's first job stays out, so b's
    later ones wait for it (what a SIGKILL would lose of b stays within the window), while a
    moves on with its own reader; a task added mid-run (for 11, which b's feed skips, as it
    skips the days of a Trends series) is not held back."""
    gate = Gate()
    box: list[LaneRunner[str]] = []  # the runner, once built: its tasks put into it
    runner: LaneRunner[str] = LaneRunner(
        12,
        {"a": feed(gate, box, "a", range(6)), "b": feed(gate, box, "b", range(6, 11))},
        {"a": 3, "b": 3},
        window=3,
        stop=threading.Event(),
        segments=(0, 6),
    )
    box.append(runner)
    runner.start()
    gate.wait_running({"a0", "a1", "a2", "b6", "b7", "b8"})
    gate.release("a0", "a1", "a2", "b7", "b8")
    assert [runner.result(n) for n in range(3)] == ["a0", "a1", "a2"]
    gate.wait_running({"a3", "a4", "a5", "b6"})  # a's reader moved a's window only
    assert "b9" not in gate.started
    runner.add("b", 11, partial(gate.work, runner, "fallback", (11,)))
    gate.wait_running({"a3", "a4", "a5", "b6", "fallback"})
    gate.release("b6", "fallback")
    assert runner.result(6) == "b6"  # b's reader moves one on: b9 may start
    gate.wait_running({"a3", "a4", "a5", "b9"})
    assert runner.result(7) == "b7"  # and one more: b10
    gate.wait_running({"a3", "a4", "a5", "b9", "b10"})
    gate.release("a3", "a4", "a5", "b9", "b10")
    results = [runner.result(n) for n in [3, 4, 5, 8, 9, 10, 11]]
    assert results == ["a3", "a4", "a5", "b8", "b9", "b10", "fallback"]
