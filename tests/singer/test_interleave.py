"""Both streams selected: every stream's finished counts reach the output, with a STATE covering
them, within the documented span, whichever stream the SDK would have synced first.

The SDK syncs streams one after the other while the tap counts both at once: the stream synced
second had its finished counts held in memory, and a SIGKILL at the 115th `event_counts` record
lost 117 finished `profile_counts` jobs. Now the records interleave as counted. A kill loses
only what the last STATE did not cover yet, within the bound of docs/state.md (`loss_bound`:
a STATE's worth of records, plus per stream twice its pool, in flight or waiting for an earlier
period, plus in BATCH mode a file not yet full; every kill point: test_kill_loss.py). When no
record follows, a STATE still goes out once `STATE_EVERY_SECONDS` have passed (time is an
input here).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, ManualClock
from tap_clevertap_counts.singer import delivery, messages
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import LAUNCHES, PIZZA, tap_config, wait_until
from tests.delivered import (
    Delivered,
    Period,
    batch_config,
    check_exact,
    loss_bound,
    read,
    run_until,
    uncovered,
)

from .test_event_counts import catalog_selecting

BOTH = ("event_counts", "profile_counts")
STREAM_OF_PATH = {
    "/1/counts/profiles.json": "profile_counts",
    "/1/counts/events.json": "event_counts",
}
QUERY_OF_EVENT = {PIZZA["event_name"]: "pizza", LAUNCHES["event_name"]: "launches"}
IN_FLIGHT = 3  # max_concurrent_queries: per API, so per stream here
BATCH_SIZE = 5


def finished(log: list[dict[str, Any]]) -> set[Period]:
    """The periods whose count the emulator had answered, from its request log."""
    asked: dict[int, Period] = {}
    done: set[Period] = set()
    for entry in log:
        answer = entry["answer"]
        if not isinstance(answer, dict):
            continue
        if entry["kind"] == "submit" and isinstance(entry["body"], dict):
            body = entry["body"]
            to_date = datetime.datetime.strptime(str(body["to"]), "%Y%m%d").date().isoformat()
            stream = STREAM_OF_PATH[entry["path"].partition("?")[0]]
            period = (stream, QUERY_OF_EVENT[body["event_name"]], to_date)
            if answer.get("status") == "partial":
                asked[answer["req_id"]] = period
            elif answer.get("status") == "success":
                done.add(period)
        elif entry["kind"] == "poll" and answer.get("status") == "success":
            done.add(asked[entry["req_id"]])  # a success answers a req_id a submit was given
    return done


@pytest.mark.parametrize("mode", ["records", "batch"])
def test_a_kill_in_the_middle_loses_at_most_a_state_s_worth_of_either_stream(
    make_emulator: Callable[..., Emulator], tmp_path: Path, mode: str
) -> None:
    """SIGKILL at the 30th of 60 `event_counts` records (the SDK syncs it first): the finished
    counts of both streams not covered by the last STATE are counted and bounded.

    Jobs of 0.1 s, as CleverTap's take 30 s or more: the tap writes faster than its workers
    count. (Against a 20 ms emulator the workers outrun even the writing of batch files.)"""
    emulator = make_emulator(seed=31, partial_share=1.0, job_seconds=0.1)
    extra = {"batch_config": batch_config(tmp_path, BATCH_SIZE)} if mode == "batch" else {}
    config = tap_config(
        emulator,
        start_date="2024-01-01",
        end_date="2024-01-30",  # 30 days, 2 queries: 60 records per stream
        queries=[PIZZA, LAUNCHES],
        max_concurrent_queries=IN_FLIGHT,
        poll_interval_seconds=0.02,
        count_events=True,
        **extra,
    )
    at_kill: list[int] = []

    def middle_of_event_counts(out: Delivered, _: dict[str, Any]) -> bool:
        return sum(stream == "event_counts" for stream, *_ in out.periods) >= 30

    stopped = run_until(
        tmp_path / "killed",
        config,
        middle_of_event_counts,
        signal.SIGKILL,
        catalog=catalog_selecting(*BOTH),
        on_signal=lambda: at_kill.append(len(emulator.requests())),
    )
    assert stopped.signalled and stopped.returncode == -signal.SIGKILL
    out = stopped.delivered
    check_exact(emulator, out, [PIZZA, LAUNCHES])
    done = finished(emulator.requests()[: at_kill[0]])
    lost = sorted(set(uncovered(done, out.state)))
    by_stream = {stream: sum(p[0] == stream for p in lost) for stream in BOTH}
    written = {stream: sum(p[0] == stream for p in out.periods) for stream in BOTH}
    print(
        f"{mode}: SIGKILL at event_counts record 30: {len(done)} jobs finished, records out "
        f"{written}, finished but lost {by_stream}"
    )
    assert written["profile_counts"] > 0  # the other stream's counts went out as counted
    # Uncovered: records out after the last STATE (at most a STATE's worth), answers in flight
    # or waiting for an earlier period of their stream, and in BATCH mode those of each
    # stream's file not yet full (every kill point: test_kill_loss.py).
    batch_size = BATCH_SIZE if mode == "batch" else None
    assert len(lost) <= loss_bound(len(BOTH), IN_FLIGHT, batch_size), lost


class Output(io.StringIO):
    """The tap's stdout, read by the test while the tap writes it from its thread."""

    def delivered(self) -> Delivered:
        return read(self.getvalue().splitlines())


def test_a_state_covers_records_within_the_span_though_no_record_follows(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both streams wait on jobs that run for minutes: the records already out get their STATE
    once `STATE_EVERY_SECONDS` have passed, not when the next record comes."""
    clock = ManualClock()
    monkeypatch.setattr(messages, "clock", clock)  # the tap's STATE pacing, on the test's clock
    monkeypatch.setattr(delivery, "STATE_EVERY_RECORDS", 10**6)  # time alone says when
    emulator = make_emulator(
        clock=clock, partial_share=1.0, job_seconds=100.0, req_id_ttl_seconds=1e6
    )
    # 4 days, 3 jobs at a time per stream: 3 end at t=100, the 4th (sent then) at t=200
    config = tap_config(
        emulator, start_date="2024-03-01", end_date="2024-03-04", queries=[PIZZA], count_events=True
    )
    tap = TapClevertapCounts(config=config, catalog=catalog_selecting(*BOTH))
    output = Output()
    failures: list[BaseException] = []

    def sync() -> None:
        try:
            with contextlib.redirect_stdout(output):
                tap.sync_all()
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)

    def submits() -> int:
        return sum(entry["kind"] == "submit" for entry in emulator.requests())

    thread = threading.Thread(target=sync, name="sync", daemon=True)
    thread.start()
    wait_until(lambda: submits() == 2 * IN_FLIGHT, "the first jobs of both streams")
    clock.advance(100)  # t=100: they end; a STATE last went out at t=0 (none: the tap began)
    wait_until(lambda: len(output.delivered().periods) == 2 * IN_FLIGHT, "their records")
    wait_until(lambda: submits() == 2 * (IN_FLIGHT + 1), "the last jobs")
    first = output.delivered()
    assert uncovered(first.periods, first.state) == first.periods  # no STATE yet: 100 s < 120 s
    clock.advance(delivery.STATE_EVERY_SECONDS - 100)  # t=120: the span is over; no job ends
    wait_until(lambda: output.delivered().last == "STATE", "a STATE though no record follows")
    covered = output.delivered()
    assert covered.periods == first.periods  # the last jobs are still running
    assert uncovered(covered.periods, covered.state) == []
    clock.advance(100)  # t=220: the last jobs end
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures, failures
    done = output.delivered()
    assert sorted(done.periods) == sorted(
        (stream, "pizza", f"2024-03-0{day}") for stream in BOTH for day in range(1, 5)
    )
    assert done.last == "STATE" and uncovered(done.periods, done.state) == []
