"""A `start_date` moved back (issue 21, item 5): the periods before the old start are counted
once, with or without Trends, with one log line; a kill midway resumes without asking again;
states written before the counted ranges existed (0.1.0, and 0.2.0 before this change) are
upgraded without counting anything again; a changed definition or account starts over.

Expected periods come from tests/oracle.py (whole periods inside [start, end]); what was counted
before is what the earlier run emitted, read from its records, never from the tap's state code.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import LAUNCHES, assert_exact, bookmarks, run_tap, tap_config
from tests.oracle import all_periods, ymd
from tests.singer.test_streams import submitted

Date = datetime.date
TRENDS = "/1/counts/trends.json"


def periods_of(records: list[dict[str, Any]], name: str) -> list[tuple[Date, Date]]:
    return [
        (Date.fromisoformat(r["from_date"]), Date.fromisoformat(r["to_date"]))
        for r in records
        if r["query_name"] == name
    ]


def moved_back_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "were never emitted" in r.getMessage()]


@pytest.mark.parametrize("granularity", ["day", "week", "month", "rolling_7d"])
def test_the_periods_before_the_old_start_are_counted_once(
    emulator: Emulator, caplog: pytest.LogCaptureFixture, granularity: str
) -> None:
    query = {**LAUNCHES, "granularity": granularity}
    old_start, new_start = Date(2024, 2, 14), Date(2024, 1, 3)
    first_config = tap_config(
        emulator, start_date=old_start.isoformat(), end_date="2024-03-31", queries=[query]
    )
    first = run_tap(first_config)
    counted = periods_of(first.records, "launches")
    assert counted == all_periods(granularity, old_start, Date(2024, 3, 31))

    emulator.clear_log()
    config = tap_config(
        emulator,
        start_date=new_start.isoformat(),
        end_date="2024-04-07",
        lookback_days=2,
        queries=[query],
    )
    with caplog.at_level(logging.INFO):
        second = run_tap(config, state=copy.deepcopy(first.state))
    assert_exact(emulator, config, second)
    mark = counted[-1][1]
    expected = [
        p
        for p in all_periods(granularity, new_start, Date(2024, 4, 7))
        if p not in counted or p[1] > mark - datetime.timedelta(days=2)
    ]
    assert periods_of(second.records, "launches") == expected  # ascending, each once
    assert len([p for p in expected if p[0] < old_start]) > 0  # the case is not empty
    (line,) = moved_back_lines(caplog)
    assert "'launches'" in line and str(new_start) in line
    assert bookmarks(second.state) == {"launches": expected[-1][1].isoformat()}

    emulator.clear_log()  # a third run owes nothing before the new start any more
    caplog.clear()
    with caplog.at_level(logging.INFO):
        third = run_tap(config, state=copy.deepcopy(second.state))
    floor = expected[-1][1] - datetime.timedelta(days=2)  # only the lookback's periods
    asked = {ymd(to) for _, _, to in submitted(emulator)}
    assert all(day > floor for day in asked), sorted(asked)[:3]
    assert all(Date.fromisoformat(r["to_date"]) > floor for r in third.records)
    assert moved_back_lines(caplog) == []


def test_with_trends_the_earlier_days_are_one_series(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator()
    first = run_tap(
        tap_config(emulator, start_date="2024-03-01", end_date="2024-03-31", queries=[LAUNCHES])
    )
    emulator.clear_log()
    config = tap_config(
        emulator,
        start_date="2024-01-01",
        end_date="2024-03-31",
        queries=[LAUNCHES],
        backfill_with_trends=True,
        lookback_days=3,
    )
    second = run_tap(config, state=copy.deepcopy(first.state))
    assert_exact(emulator, config, second)
    days = [to for _, to in periods_of(second.records, "launches")]
    february = [Date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(60)]
    assert days == [*february, Date(2024, 3, 29), Date(2024, 3, 30), Date(2024, 3, 31)]
    series = [
        e["body"] for e in emulator.requests() if e["path"] == TRENDS and e["kind"] == "submit"
    ]
    assert [(s["from"], s["to"]) for s in series] == [(20240101, 20240229)]
    by = {r["to_date"]: r["counted_by"] for r in second.records}
    assert {by[d] for d in ("2024-03-29", "2024-03-30", "2024-03-31")} == {"profiles"}
    assert "trends" in set(by.values())


def test_a_kill_midway_resumes_after_what_its_last_state_covered(emulator: Emulator) -> None:
    """Every STATE of the earlier days' backfill claims only days whose records were out
    before it; resumed from one in the middle, the run asks for exactly the days after it."""
    first = run_tap(
        tap_config(emulator, start_date="2024-03-01", end_date="2024-03-31", queries=[LAUNCHES])
    )
    config = tap_config(
        emulator, start_date="2024-01-01", end_date="2024-03-31", queries=[LAUNCHES]
    )
    full = run_tap(config, state=copy.deepcopy(first.state))
    out: set[str] = set()
    midway: list[tuple[dict[str, Any], Date]] = []
    for line in full.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            out.add(message["record"]["to_date"])
        elif message["type"] == "STATE":
            (partition,) = message["value"]["bookmarks"]["profile_counts"]["partitions"]
            ranges = partition["counted_to_dates"]
            for first_day, last_day in ranges[:-1]:  # the earlier days claimed so far
                claimed = all_periods("day", Date.fromisoformat(first_day), ymd_iso(last_day))
                assert {to.isoformat() for _, to in claimed} <= out
            if len(ranges) == 2:
                midway.append((message["value"], ymd_iso(ranges[0][1])))
    assert midway, "no STATE midway through the earlier days: make the backfill longer"
    state, covered = midway[len(midway) // 2]
    emulator.clear_log()
    rest = run_tap(config, state=copy.deepcopy(state))
    assert_exact(emulator, config, rest)
    days = [to for _, to in periods_of(rest.records, "launches")]
    assert days == [to for _, to in all_periods("day", covered, Date(2024, 2, 29))][1:]
    assert sorted(ymd(to) for _, _, to in submitted(emulator)) == days
    assert bookmarks(rest.state) == {"launches": "2024-03-31"}
    assert rest.state is not None
    (partition,) = rest.state["bookmarks"]["profile_counts"]["partitions"]
    assert partition["counted_to_dates"] == [["2024-01-01", "2024-03-31"]]


def ymd_iso(text: str) -> Date:
    return Date.fromisoformat(text)


@pytest.mark.parametrize("written_by", ["0.1.0", "0.2.0 before counted ranges"])
def test_an_older_state_is_upgraded_without_counting_again(
    emulator: Emulator, written_by: str
) -> None:
    config = tap_config(emulator, start_date="2024-02-01", end_date="2024-03-10")
    first = run_tap(config)
    assert first.state is not None
    old = copy.deepcopy(first.state)
    for partition in old["bookmarks"]["profile_counts"]["partitions"]:
        del partition["counted_to_dates"]
        if written_by == "0.1.0":
            del partition["account_id"]
    emulator.clear_log()
    later = tap_config(emulator, start_date="2024-02-01", end_date="2024-03-12")
    second = run_tap(later, state=old)
    assert_exact(emulator, later, second)
    assert sorted({(f, t) for _, f, t in submitted(emulator)}) == [
        (20240311, 20240311),
        (20240312, 20240312),
    ]
    assert second.state is not None
    for partition in second.state["bookmarks"]["profile_counts"]["partitions"]:
        assert partition["replication_key_value"] == "2024-03-12"
    # and moving the start back from there counts only the days before it
    emulator.clear_log()
    back = tap_config(emulator, start_date="2024-01-29", end_date="2024-03-12")
    third = run_tap(back, state=copy.deepcopy(second.state))
    assert {r["to_date"] for r in third.records} == {"2024-01-29", "2024-01-30", "2024-01-31"}


@pytest.mark.parametrize("change", ["event", "account"])
def test_a_changed_query_or_account_forgets_what_was_counted(
    make_emulator: Callable[..., Emulator], change: str
) -> None:
    emulator = make_emulator()
    first = run_tap(
        tap_config(emulator, start_date="2024-03-01", end_date="2024-03-10", queries=[LAUNCHES])
    )
    query: dict[str, Any] = dict(LAUNCHES)
    other: dict[str, Any] = {}
    if change == "event":
        query["event_name"] = "Charged"
    else:
        other_emulator = make_emulator(account_id="OTHER-000-0002", passcode="other-pass-9xQ")
        other = {
            "account_id": "OTHER-000-0002",
            "passcode": "other-pass-9xQ",
            "api_url": other_emulator.url,
        }
        emulator = other_emulator
    config = tap_config(
        emulator, start_date="2024-03-05", end_date="2024-03-10", queries=[query], **other
    )
    second = run_tap(config, state=copy.deepcopy(first.state))
    assert [r["to_date"][-2:] for r in second.records] == ["05", "06", "07", "08", "09", "10"]
    # the old definition's (or account's) March 1 to 4 count for nothing now
    back = {**config, "start_date": "2024-03-01"}
    third = run_tap(back, state=copy.deepcopy(second.state))
    assert [r["to_date"][-2:] for r in third.records] == ["01", "02", "03", "04"]
    assert_exact(emulator, back, third)


GRANULARITIES = ("day", "week", "month", "rolling_7d", "rolling_28d")


@pytest.mark.parametrize("case", range(8))  # every granularity among them
def test_random_starts_moved_back_count_every_period_once(
    make_emulator: Callable[..., Emulator], case: int
) -> None:
    """Seeded: a first run, then the start moved back (and the end on), with or without Trends,
    with a lookback: the second run emits exactly the periods the first did not, plus the
    lookback's, ascending; a third run with the same config owes only the lookback's."""
    rng = random.Random(f"moved-back|{case}")
    granularity = rng.choice(GRANULARITIES)
    old_start = Date(2024, 3, 1) + datetime.timedelta(days=rng.randint(0, 40))
    new_start = old_start - datetime.timedelta(days=rng.randint(1, 70))
    first_end = old_start + datetime.timedelta(days=rng.randint(30, 60))
    end = first_end + datetime.timedelta(days=rng.randint(0, 10))
    lookback = rng.choice([0, 1, 3, 10])
    emulator = make_emulator(partial_share=0.5, job_seconds=0.0)
    query = {**LAUNCHES, "granularity": granularity}
    first_config = tap_config(
        emulator,
        start_date=old_start.isoformat(),
        end_date=first_end.isoformat(),
        queries=[query],
    )
    first = run_tap(first_config)
    counted = periods_of(first.records, "launches")
    assert counted == all_periods(granularity, old_start, first_end)
    config = tap_config(
        emulator,
        start_date=new_start.isoformat(),
        end_date=end.isoformat(),
        queries=[query],
        lookback_days=lookback,
        backfill_with_trends=rng.random() < 0.5,
    )
    second = run_tap(config, state=copy.deepcopy(first.state))
    assert_exact(emulator, config, second)
    floor = counted[-1][1] - datetime.timedelta(days=lookback) if counted else None
    expected = [
        p
        for p in all_periods(granularity, new_start, end)
        if p not in counted or (floor is not None and p[1] > floor)
    ]
    assert periods_of(second.records, "launches") == expected, (granularity, lookback)
    third = run_tap(config, state=copy.deepcopy(second.state))
    ends = [p[1] for p in expected + counted]
    if ends:  # a third run owes only the lookback's periods (and none at all without one)
        floor = max(ends) - datetime.timedelta(days=lookback)
        assert all(p[1] > floor for p in periods_of(third.records, "launches"))
    else:
        assert third.records == []
    assert_exact(emulator, config, third)


def test_the_bookmark_stays_the_authority_over_the_counted_days(emulator: Emulator) -> None:
    """Edited by hand: a bookmark moved forward skips days (none of them is taken as 'before
    the start'), one moved back re-counts the days after it; neither counts earlier days."""
    config = tap_config(
        emulator, start_date="2024-03-01", end_date="2024-03-10", queries=[LAUNCHES]
    )
    first = run_tap(config)
    for mark, later, expected in (
        ("2024-03-20", "2024-03-22", ["2024-03-21", "2024-03-22"]),
        ("2024-03-07", "2024-03-10", ["2024-03-08", "2024-03-09", "2024-03-10"]),
    ):
        assert first.state is not None
        state = copy.deepcopy(first.state)
        (partition,) = state["bookmarks"]["profile_counts"]["partitions"]
        partition["replication_key_value"] = mark
        run = run_tap({**config, "end_date": later}, state=state)
        assert [r["to_date"] for r in run.records] == expected
