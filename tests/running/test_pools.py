"""A pool of slots per API (issue 18): both streams' jobs in flight at once, each API at its own
limit; a 429 shrinks only the pool of the API that said it; one limit shared by all APIs (an
emulator switch) still ends exact; and one job per distinct question within a run.

Judged from the emulator's request log (which API held how many slots when), never by a clock.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from typing import Any

from tap_clevertap_counts.emulator import Emulator, ManualClock
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    ROUND_SECONDS,
    assert_exact,
    bookmarks,
    run_tap,
    run_tap_in_rounds,
    tap_config,
)
from tests.oracle import all_periods, definition_key
from tests.singer.test_event_counts import EVENTS, PROFILES, catalog_selecting

BOTH = ("profile_counts", "event_counts")
DAYS = 12  # per stream and query: 4 rounds of 3 slots
TTL = 1e9  # a finished job's req_id outlives every jump, however many come before its poll


def both_streams(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    return tap_config(
        emulator,
        start_date="2024-03-01",
        end_date=f"2024-03-{DAYS:02d}",
        queries=[LAUNCHES],
        max_concurrent_queries=3,
        count_events=True,
        **overrides,
    )


def in_rounds(make_emulator: Callable[..., Emulator], clock: ManualClock, **more: Any) -> Emulator:
    """An account allowing 3 per API whose jobs all stay pending until `run_tap_in_rounds`
    moves the clock."""
    return make_emulator(
        partial_share=1.0,
        job_seconds=ROUND_SECONDS,
        req_id_ttl_seconds=TTL,
        concurrency_limit=3,
        clock=clock,
        **more,
    )


def submit_log(emulator: Emulator, path: str) -> list[dict[str, Any]]:
    return [e for e in emulator.requests() if e["kind"] == "submit" and e["path"] == path]


def test_both_apis_are_kept_at_their_own_limit_at_once(
    make_emulator: Callable[..., Emulator], clock: ManualClock
) -> None:
    # Jobs end only once 6 run (3 per API): if the pools could not fill at once, this would
    # wait for a round that never comes and fail, on any machine.
    emulator = in_rounds(make_emulator, clock)
    config = both_streams(emulator)
    run = run_tap_in_rounds(
        config,
        clock,
        lambda: emulator.running_jobs() == 6,
        catalog=catalog_selecting(*BOTH),
    )
    assert_exact(emulator, config, run)
    assert len(run.records) == len(run.event_records) == DAYS
    profiles, events = submit_log(emulator, PROFILES), submit_log(emulator, EVENTS)
    assert all(e["status"] == 200 for e in emulator.requests()), "no 429: each API has 3 slots"
    # each API held its 3 slots, never a 4th ...
    assert max(e["inflight"] for e in profiles) == max(e["inflight"] for e in events) == 3
    # ... and at the same time: the event counts did not wait for the profile counts to end
    # (records go out stream after stream, but both pools work from the start).
    assert events[2]["t"] < profiles[-1]["t"], "the second API's pool filled only afterwards"
    assert len(profiles) == len(events) == DAYS


def test_one_limit_shared_by_every_api_still_ends_exact(
    make_emulator: Callable[..., Emulator], clock: ManualClock
) -> None:
    """An account (or emulator) whose 3 slots serve all APIs together: the two pools ask 6,
    get 429s, shrink, and the run still finishes with every record exact."""
    emulator = in_rounds(make_emulator, clock, shared_limit=True)
    config = both_streams(emulator)

    def round_over() -> bool:
        """The first round ends once all six first submits were answered (3 taken, 3 refused:
        nothing ended in between); after it, any running job may end."""
        if len(submit_log(emulator, PROFILES) + submit_log(emulator, EVENTS)) < 6:
            return False
        return emulator.running_jobs() > 0

    run = run_tap_in_rounds(config, clock, round_over, catalog=catalog_selecting(*BOTH))
    assert_exact(emulator, config, run)
    every_day = {f"2024-03-{day:02d}" for day in range(1, DAYS + 1)}
    assert {r["to_date"] for r in run.records} == every_day
    assert {r["to_date"] for r in run.event_records} == every_day
    assert bookmarks(run.state) == {"launches": f"2024-03-{DAYS:02d}"}
    assert bookmarks(run.state, "event_counts") == {"launches": f"2024-03-{DAYS:02d}"}
    log = emulator.requests()
    assert any(e["status"] == 429 for e in log), "6 asked of 3 shared slots: some refused"
    accepted = [e for e in log if e["status"] == 200 and e["kind"] == "submit"]
    assert len(accepted) == 2 * DAYS, "every refused submit was sent again, once accepted"


def test_a_429_shrinks_only_the_pool_of_the_api_that_said_it(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.05)
    emulator.inject("busy_429", times=1, on="submit")  # whichever API submits first
    tap = TapClevertapCounts(config=both_streams(emulator), catalog=catalog_selecting(*BOTH))
    run = tap.counting_run("profile_counts", "launches")
    counted = {stream: [count for _, count in run.results((stream, "launches"))] for stream in BOTH}
    assert len(counted["profile_counts"]) == len(counted["event_counts"]) == DAYS
    refused = [e["path"] for e in emulator.requests() if e["status"] == 429]
    assert len(refused) == 1
    throttles = {path: limiter.throttles for path, limiter in run.limiters().items()}
    assert throttles == {refused[0]: 1, ({PROFILES, EVENTS} - set(refused)).pop(): 0}


# --- one job per distinct question -----------------------------------------------------------


def test_identical_questions_of_different_queries_are_asked_once(
    make_emulator: Callable[..., Emulator],
) -> None:
    """A `week` and a `rolling_7d` of one event share their Monday-Sunday windows; two queries
    that differ only in name share everything: one submit each, a record for every query."""
    emulator = make_emulator(partial_share=0.6, job_seconds=0.02)
    queries: list[dict[str, Any]] = [
        {**PIZZA, "name": "weekly", "granularity": "week"},
        {**PIZZA, "name": "wau", "granularity": "rolling_7d"},
        {**LAUNCHES, "name": "launches"},
        {**LAUNCHES, "name": "launches_again"},
    ]
    start, end = datetime.date(2024, 3, 1), datetime.date(2024, 3, 24)
    config = tap_config(
        emulator, start_date=start.isoformat(), end_date=end.isoformat(), queries=queries
    )
    run = run_tap(config)
    assert_exact(emulator, config, run)
    # every query gets every one of its periods (the oracle's), in config order
    expected = [
        (q["name"], first.isoformat(), last.isoformat())
        for q in queries
        for first, last in all_periods(q.get("granularity", "day"), start, end)
    ]
    assert run.periods() == expected
    asked = Counter(
        (definition_key(body["event_name"], body["event_properties"]), body["from"], body["to"])
        for body in (e["body"] for e in submit_log(emulator, PROFILES))
    )
    assert set(asked.values()) == {1}, "a question asked twice"
    distinct = {
        (definition_key(q["event_name"], q.get("event_properties")), first, last)
        for q in queries
        for first, last in all_periods(q.get("granularity", "day"), start, end)
    }
    assert len(asked) == len(distinct)
    # 24 days, 3 weeks of which the 18 windows hold 3: 24 + 18 jobs instead of 24*2 + 3 + 18
    assert len(asked) == 24 + 18
