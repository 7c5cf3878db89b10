"""Today and partial days: a period ending today (not over in the account's time zone) is
emitted as provisional, never bookmarked, never counted through Trends, and counted again by the
next run; a config with nothing whole to count says so in one line.

"Today" is the test's input: the tap is given the instant it takes as the present (`now`), and
the emulator its own today; the wall clock never decides. Expected periods come from the
contract's oracle (`tests/oracle.py`), counts from the emulator's event store.
"""

from __future__ import annotations

import copy
import datetime
import gzip
import json
import logging
import random
import urllib.parse
import zoneinfo
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.config.settings import parse_settings
from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.errors import ConfigError
from tap_clevertap_counts.planning.today import is_provisional
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    TapRun,
    assert_exact,
    bookmarks,
    run_cli,
    run_tap,
    tap_config,
)
from tests.oracle import all_periods, owed
from tests.singer.test_event_counts import EVENTS, PROFILES, catalog_selecting

Date = datetime.date
UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
TRENDS = "/1/counts/trends.json"
BOTH = ("profile_counts", "event_counts")
WEEKLY: dict[str, Any] = {"name": "weekly", "event_name": "App Launched", "granularity": "week"}
MONTHLY: dict[str, Any] = {"name": "monthly", "event_name": "Charged", "granularity": "month"}
ROLLING: dict[str, Any] = {"name": "wau", "event_name": "App Launched", "granularity": "rolling_7d"}
QUERIES: list[dict[str, Any]] = [PIZZA, WEEKLY, MONTHLY, ROLLING, LAUNCHES]
START = Date(2024, 1, 29)  # a Monday: every query has whole periods before today


def at(day: Date, hour: int) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def periods_of(records: list[dict[str, Any]], name: str) -> list[tuple[Date, Date]]:
    return [
        (Date.fromisoformat(r["from_date"]), Date.fromisoformat(r["to_date"]))
        for r in records
        if r["query_name"] == name
    ]


def submitted(emulator: Emulator, path: str) -> Counter[tuple[str, Date, Date]]:
    """(event, from, to) of every accepted submit to `path`, with multiplicity."""
    return Counter(
        (
            e["body"]["event_name"],
            datetime.datetime.strptime(str(e["body"]["from"]), "%Y%m%d").date(),
            datetime.datetime.strptime(str(e["body"]["to"]), "%Y%m%d").date(),
        )
        for e in emulator.requests()
        if e["kind"] == "submit" and e["path"] == path and e["status"] == 200
    )


def every_bookmark(run: TapRun) -> list[Date]:
    """Every bookmark of every STATE the run wrote, of both streams."""
    return [
        Date.fromisoformat(mark)
        for state in run.states
        for stream in BOTH
        for mark in bookmarks(state, stream).values()
    ]


def test_a_period_is_provisional_when_it_ends_today() -> None:
    today = Date(2024, 3, 31)  # a Sunday, the last day of March
    assert is_provisional((today, today), today)
    assert is_provisional((Date(2024, 3, 25), today), today)  # its ISO week
    assert is_provisional((Date(2024, 3, 1), today), today)  # its month
    assert not is_provisional((Date(2024, 3, 24), Date(2024, 3, 30)), today)  # yesterday's window


# --- provisional periods, every granularity, both streams, lookback ---------------------------


@pytest.mark.parametrize(
    "today",
    [
        Date(2024, 3, 31),  # a Sunday and a month's last day: every query ends on today
        Date(2024, 3, 28),  # a Thursday: the week and month queries end before today
    ],
)
def test_periods_ending_today_are_emitted_then_counted_again_never_bookmarked(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture, today: Date
) -> None:
    emulator = make_emulator(partial_share=0.0, today=today + DAY)
    catalog = catalog_selecting(*BOTH)
    config = tap_config(
        emulator,
        count_events=True,
        start_date=START.isoformat(),
        end_date=today.isoformat(),
        queries=QUERIES,
        lookback_days=2,
    )
    with caplog.at_level(logging.INFO):
        first = run_tap(config, catalog=catalog, now=at(today, 15))
    assert_exact(emulator, config, first)
    for query in QUERIES:
        name, granularity = str(query["name"]), str(query.get("granularity", "day"))
        expected = all_periods(granularity, START, today)
        whole = [period for period in expected if period[1] < today]
        assert periods_of(first.records, name) == expected, name
        assert periods_of(first.event_records, name) == expected, name
        for stream in BOTH:
            # the bookmark stays on the last whole period: the provisional one is owed again
            assert bookmarks(first.state, stream)[name] == whole[-1][1].isoformat(), name
    assert max(every_bookmark(first)) == today - DAY  # no STATE ever passed a whole day
    provisional = [m for m in caplog.messages if "provisional" in m and "is today" in m]
    assert len(provisional) == 1, caplog.messages
    assert f"end_date {today} is today in UTC" in provisional[0]

    # The next morning, the default end_date (yesterday) is that day, now over: the run counts
    # again every provisional period (plus the lookback), emits it again under the same primary
    # key, and only now bookmarks it.
    emulator.clear_log()
    del config["end_date"]
    state = copy.deepcopy(first.state)
    second = run_tap(config, state=state, catalog=catalog, now=at(today + DAY, 8))
    assert_exact(emulator, config, second)
    for query in QUERIES:
        name, granularity = str(query["name"]), str(query.get("granularity", "day"))
        mark = Date.fromisoformat(bookmarks(first.state)[name])
        expected = owed(granularity, START, today, mark, 2)
        assert periods_of(second.records, name) == expected, name
        assert periods_of(second.event_records, name) == expected, name
        if expected[-1][1] == today:
            assert expected[-1] in periods_of(first.records, name)  # counted twice, as owed
        for stream in BOTH:
            assert bookmarks(second.state, stream)[name] == expected[-1][1].isoformat(), name
    for path in (PROFILES, EVENTS):
        asked = submitted(emulator, path)
        assert max(asked.values()) == 1  # one job per question, also for shared windows
        assert {(a, b) for _, a, b in asked} == {
            period
            for query in QUERIES
            for period in owed(
                str(query.get("granularity", "day")),
                START,
                today,
                Date.fromisoformat(bookmarks(first.state)[str(query["name"])]),
                2,
            )
        }


def test_a_provisional_day_alone_leaves_the_state_as_it_was(
    make_emulator: Callable[..., Emulator],
) -> None:
    """Counted yesterday up to yesterday, a run today with end_date today emits today only:
    the bookmark, fingerprint and account of each query stay as they were."""
    today = Date(2024, 3, 20)
    emulator = make_emulator(partial_share=0.0, today=today)
    config = tap_config(emulator, start_date="2024-03-15", end_date=str(today - DAY))
    before = run_tap(config, now=at(today, 6))
    config["end_date"] = today.isoformat()
    after = run_tap(config, state=copy.deepcopy(before.state), now=at(today, 18))
    day = str(today)
    assert after.periods() == [("pizza", day, day), ("launches", day, day)]
    assert_exact(emulator, config, after)
    assert after.state == before.state


def test_in_batch_mode_too_the_provisional_period_is_announced_but_never_bookmarked(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    today = Date(2024, 3, 20)
    emulator = make_emulator(partial_share=0.0, today=today)
    config = tap_config(
        emulator,
        start_date="2024-03-11",
        end_date=str(today),
        queries=[LAUNCHES],
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": tmp_path.as_uri(), "prefix": "batch-"},
            "batch_size": 4,
        },
    )
    run = run_tap(config, now=at(today, 12))
    batched = []
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message.get("type") == "BATCH":
            for uri in message["manifest"]:
                with gzip.open(Path(urllib.parse.urlparse(uri).path), "rt") as file:
                    batched += [json.loads(row)["to_date"] for row in file]
    assert batched == [str(day) for day, _ in all_periods("day", Date(2024, 3, 11), today)]
    assert bookmarks(run.state) == {"launches": str(today - DAY)}


# --- Trends never counts a provisional day ----------------------------------------------------


def test_with_trends_the_provisional_day_goes_to_the_own_endpoint_once(
    make_emulator: Callable[..., Emulator],
) -> None:
    """A 60-day backlog ending today: Trends series end yesterday, today is asked of each
    stream's own endpoint once (two identical queries share it), and is bookmarked by neither.
    A query with nothing owed comes first: its empty block shares its position with the next."""
    today = Date(2024, 3, 31)
    start = today - 59 * DAY
    emulator = make_emulator(partial_share=0.0, today=today)
    twin = {**LAUNCHES, "name": "launches_twin"}
    config = tap_config(
        emulator,
        count_events=True,
        start_date=start.isoformat(),
        end_date=today.isoformat(),
        queries=[{**WEEKLY, "start_date": str(today - 2 * DAY)}, LAUNCHES, twin, PIZZA],
        backfill_with_trends=True,
    )
    run = run_tap(config, catalog=catalog_selecting(*BOTH), now=at(today, 12))
    assert_exact(emulator, config, run)
    days = all_periods("day", start, today)
    for name in ("launches", "launches_twin", "pizza"):
        assert periods_of(run.records, name) == days
        assert periods_of(run.event_records, name) == days
        for stream in BOTH:
            assert bookmarks(run.state, stream)[name] == str(today - DAY)
    series = submitted(emulator, TRENDS)
    assert series  # the backlog did go through Trends, both streams
    assert all(last < today for _, _, last in series), series
    for path in (PROFILES, EVENTS):
        own = submitted(emulator, path)
        assert own[("App Launched", today, today)] == 1, path
        assert own[("choseNewFavoriteFood", today, today)] == 1, path  # filtered: day by day


# --- "today" is the account's -----------------------------------------------------------------


def test_the_time_zone_decides_which_day_is_not_over(
    make_emulator: Callable[..., Emulator],
) -> None:
    """At 20:00 UTC on March 31 it is already April 1 in Kiritimati (UTC+14): there, March 31
    is whole and bookmarked, and April 1 may be asked for, provisionally."""
    now = at(Date(2024, 3, 31), 20)
    emulator = make_emulator(partial_share=0.0, today=Date(2024, 4, 1))
    config = tap_config(
        emulator, start_date="2024-03-29", timezone="Pacific/Kiritimati", queries=[LAUNCHES]
    )
    del config["end_date"]
    default_end = run_tap(config, now=now)
    assert [r["to_date"] for r in default_end.records] == ["2024-03-29", "2024-03-30", "2024-03-31"]
    assert bookmarks(default_end.state) == {"launches": "2024-03-31"}
    config["end_date"] = "2024-04-01"
    to_today = run_tap(config, now=now)
    assert to_today.records[-1]["to_date"] == "2024-04-01"
    assert bookmarks(to_today.state) == {"launches": "2024-03-31"}
    refused = r"end_date 2024-04-01 is after today \(2024-03-31 in UTC"
    with pytest.raises(ConfigError, match=refused):
        parse_settings({**config, "timezone": "UTC"}, now)


def test_end_date_today_is_allowed_tomorrow_is_refused() -> None:
    now = at(Date(2024, 3, 31), 23)
    config = {
        "account_id": "ACC",
        "passcode": "secret-passcode",
        "start_date": "2024-03-01",
        "queries": [LAUNCHES],
    }
    settings = parse_settings({**config, "end_date": "2024-03-31"}, now)
    assert (settings.end_date, settings.today) == (Date(2024, 3, 31), Date(2024, 3, 31))
    assert parse_settings(config, now).end_date == Date(2024, 3, 30)  # the default: yesterday
    with pytest.raises(ConfigError, match="end_date 2024-04-01 is after today"):
        parse_settings({**config, "end_date": "2024-04-01"}, now)
    with pytest.raises(ValueError, match="aware"):
        parse_settings(config, datetime.datetime(2024, 3, 31, 12))  # naive


# --- nothing whole to count --------------------------------------------------------------------


def nothing_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "nothing to count" in r.getMessage()]


def test_start_date_today_without_end_date_says_so_once_per_query(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK cookiecutter's sample config: start_date today, no end_date. Nothing is sent,
    nothing emitted, exit 0, and one warning per query says why and what to change."""
    today = Date(2024, 5, 15)
    emulator = make_emulator(partial_share=0.0, today=today)
    config = tap_config(
        emulator, start_date=today.isoformat(), queries=[PIZZA, WEEKLY], count_events=True
    )
    del config["end_date"]
    with caplog.at_level(logging.INFO):
        run = run_tap(config, catalog=catalog_selecting(*BOTH), now=at(today, 10))
    assert (run.records, run.event_records) == ([], [])
    assert emulator.requests() == []
    lines = nothing_lines(caplog)
    assert [r.levelno for r in lines] == [logging.WARNING, logging.WARNING]
    pizza, weekly = (r.getMessage() for r in lines)
    assert pizza.startswith("query 'pizza': nothing to count: its start_date 2024-05-15 is after")
    assert "end_date 2024-05-14 (unset: yesterday)" in pizza
    assert "set start_date to 2024-05-14 or earlier" in pizza
    assert "or end_date to a later day (at most today, 2024-05-15: provisional)" in pizza
    # 2024-05-15 is a Wednesday: the last whole week before it is May 6..12
    assert weekly.startswith("query 'weekly': nothing to count")
    assert "set start_date to 2024-05-06 or earlier to count 2024-05-06..2024-05-12" in weekly
    assert "end_date to a later day" not in weekly  # no whole week ends by today either


@pytest.mark.parametrize(
    ("query", "start", "end", "first_end", "advice"),
    [
        (WEEKLY, "2024-03-06", "2024-03-09", "2024-03-17", "2024-02-26..2024-03-03"),
        (MONTHLY, "2024-03-02", "2024-03-31", "2024-04-30", "2024-03-01..2024-03-31"),
        (ROLLING, "2024-03-01", "2024-03-06", "2024-03-07", "2024-02-29..2024-03-06"),
    ],
)
def test_a_range_with_no_whole_period_names_the_first_one(
    make_emulator: Callable[..., Emulator],
    caplog: pytest.LogCaptureFixture,
    query: dict[str, Any],
    start: str,
    end: str,
    first_end: str,
    advice: str,
) -> None:
    emulator = make_emulator(partial_share=0.0, today=Date(2024, 6, 1))
    config = tap_config(emulator, start_date=start, end_date=end, queries=[query, LAUNCHES])
    with caplog.at_level(logging.INFO):
        run = run_tap(config, now=at(Date(2024, 6, 1), 12))
    assert {r["query_name"] for r in run.records} == {"launches"}  # the other query counts
    (line,) = (r.getMessage() for r in nothing_lines(caplog))
    assert line.startswith(f"query '{query['name']}': nothing to count: the first whole ")
    assert f"from start_date {start} ends on {first_end}, after end_date {end}" in line
    assert f"or earlier to count {advice}" in line


def test_the_command_exits_0_and_says_why_it_counted_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Through the command (fixed past dates, so the clock cannot matter): one line, exit 0."""
    config = tap_config(emulator, start_date="2024-03-06", end_date="2024-03-09", queries=[WEEKLY])
    run = run_cli([], config, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.records == []
    assert emulator.requests() == []
    lines = [line for line in run.stderr.splitlines() if "nothing to count" in line]
    assert len(lines) == 1, run.stderr
    assert "query 'weekly'" in lines[0]
    assert "Traceback" not in run.stderr


# --- seeded scenarios: the invariants wherever today falls ------------------------------------

ZONES = ("UTC", "Pacific/Kiritimati", "America/New_York", "Asia/Kolkata")
EVENTS_POOL = (PIZZA, LAUNCHES, {"name": "charged", "event_name": "Charged"})
GRANULARITIES = ("day", "day", "week", "month", "rolling_2d", "rolling_7d")


def draw(rng: random.Random) -> tuple[Date, datetime.datetime, dict[str, Any], tuple[str, ...]]:
    """(today in the zone, the instant `now`, config changes, streams) of one scenario."""
    today = Date(2023, 11, 1) + rng.randrange(200) * DAY
    zone = rng.choice(ZONES)
    local = datetime.datetime.combine(today, datetime.time(rng.randrange(24), rng.randrange(60)))
    now = local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)
    start = today - rng.choice([0, 2, 9, 35, 64]) * DAY
    queries = []
    for index in range(rng.randint(1, 4)):
        query: dict[str, Any] = {
            **rng.choice(EVENTS_POOL),
            "name": f"q{index}",
            "granularity": rng.choice(GRANULARITIES),
        }
        if rng.random() < 0.3:
            query["start_date"] = str(min(today, start + rng.randrange(10) * DAY))
        queries.append(query)
    changes = {
        "start_date": str(start),
        "end_date": str(today),
        "timezone": zone,
        "queries": queries,
        "lookback_days": rng.choice([0, 0, 1, 3]),
        "backfill_with_trends": rng.random() < 0.4,
    }
    return today, now, changes, rng.choice([("profile_counts",), BOTH])


def query_start(config: dict[str, Any], query: dict[str, Any]) -> Date:
    return Date.fromisoformat(query.get("start_date", config["start_date"]))


@pytest.mark.parametrize("seed", range(6))
def test_random_scenarios_never_bookmark_today_and_count_it_again_next_day(
    make_emulator: Callable[..., Emulator], seed: int
) -> None:
    rng = random.Random(f"today|{seed}")
    today, now, changes, streams = draw(rng)
    emulator = make_emulator(partial_share=rng.random(), job_seconds=0.002, today=today + DAY)
    config = tap_config(emulator, **changes, count_events=True)
    catalog = catalog_selecting(*streams)
    lookback = int(changes["lookback_days"])

    first = run_tap(config, catalog=catalog, now=now)
    assert_exact(emulator, config, first)
    assert all(mark < today for mark in every_bookmark(first))
    assert all(last < today for _, _, last in submitted(emulator, TRENDS))
    del config["end_date"]  # the next day's run: up to yesterday, that today
    emulator.clear_log()
    zone = zoneinfo.ZoneInfo(str(changes["timezone"]))
    morning = datetime.datetime.combine(today + DAY, datetime.time(rng.randrange(24)), zone)
    second = run_tap(config, state=copy.deepcopy(first.state), catalog=catalog, now=morning)
    assert_exact(emulator, config, second)
    for stream in streams:
        records = {"profile_counts": "records", "event_counts": "event_records"}[stream]
        for query in changes["queries"]:
            name, granularity = query["name"], query["granularity"]
            periods = all_periods(granularity, query_start(config, query), today)
            emitted = periods_of(getattr(first, records), name)
            assert emitted == periods, (stream, name)
            whole = [p for p in periods if p[1] < today]
            mark = bookmarks(first.state, stream).get(name)
            assert mark == (whole[-1][1].isoformat() if whole else None), (stream, name)
            again = owed(
                granularity,
                query_start(config, query),
                today,
                Date.fromisoformat(mark) if mark else None,
                lookback,
            )
            assert periods_of(getattr(second, records), name) == again, (stream, name)
            assert [p for p in periods if p[1] == today] == [p for p in again if p[1] == today]
            final = bookmarks(second.state, stream).get(name)
            assert final == (periods[-1][1].isoformat() if periods else None), (stream, name)
