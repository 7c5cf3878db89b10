"""`backfill_with_trends` at the edges (issue 21): re-counts never go through Trends, the check
samples days inside each series, one job per question when queries overlap, and one log line
naming every query and why it did or did not use Trends.

Which days the check samples is read from the emulator's request log of a first run, then the
emulator's Trends is made wrong on a chosen day: a sampled day is caught, an unsampled one is
not (the documented limit, whose records say `counted_by: trends`).
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import LAUNCHES, PIZZA, assert_exact, run_tap, tap_config, truth
from tests.oracle import ymd
from tests.singer.test_event_counts import PROFILES

from .test_trends import CHECKED_DAYS, TRENDS, submits, trends_warnings

Date = datetime.date
START, END = Date(2024, 1, 1), Date(2024, 3, 31)  # 91 days


def config_for(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "queries": [LAUNCHES],
        "backfill_with_trends": True,
    }
    return tap_config(emulator, **{**settings, **overrides})


def own_days(emulator: Emulator) -> list[Date]:
    return sorted(ymd(b["from"]) for b in submits(emulator, PROFILES))


def trends_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and r.getMessage().startswith("backfill_with_trends:")
    ]


def test_a_daily_run_with_a_long_lookback_never_goes_through_trends(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    first = run_tap(config_for(emulator, backfill_with_trends=False))
    emulator.clear_log()
    config = config_for(emulator, end_date="2024-04-01", lookback_days=29)  # 30 days owed
    with caplog.at_level(logging.INFO):
        run = run_tap(config, state=copy.deepcopy(first.state))
    assert_exact(emulator, config, run)
    assert len(run.records) == 30
    assert submits(emulator, TRENDS) == []
    assert len(own_days(emulator)) == 30
    assert {r["counted_by"] for r in run.records} == {"profiles"}
    (line,) = trends_lines(caplog)
    assert "launches (profile_counts): re-count (30 days owed, 1 never counted" in line


def checked_days(make_emulator: Callable[..., Emulator]) -> list[Date]:
    """The days a correct run checks against the own endpoint (the series' sample)."""
    emulator = make_emulator()
    run = run_tap(config_for(emulator))
    assert_exact(emulator, config_for(emulator), run)
    days = own_days(emulator)
    assert len(days) == CHECKED_DAYS and days[0] == START and days[-1] == END
    return days


@pytest.mark.parametrize("wrong", ["one sampled middle day", "every day but first and last"])
def test_a_wrong_sampled_day_is_caught(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture, wrong: str
) -> None:
    sampled = checked_days(make_emulator)
    if wrong == "one sampled middle day":
        days: tuple[Date, ...] = (sampled[len(sampled) // 2],)
    else:
        days = tuple(START + datetime.timedelta(days=n) for n in range(1, 90))
    emulator = make_emulator(trends_wrong_days=days)
    config = config_for(emulator)
    with caplog.at_level(logging.WARNING):
        run = run_tap(config)
    assert_exact(emulator, config, run)
    assert len(run.records) == 91
    assert {r["counted_by"] for r in run.records} == {"profiles"}
    (warning,) = trends_warnings(caplog)
    assert "'launches'" in warning and "Trends is not trusted" in warning
    assert Counter(own_days(emulator)).most_common(1)[0][1] == 1  # no day asked twice


def test_a_wrong_unsampled_day_goes_undetected_and_its_record_says_trends(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    """The documented limit of a sampled check, pinned so the docs cannot claim more."""
    sampled = checked_days(make_emulator)
    day = next(
        START + datetime.timedelta(days=n)
        for n in range(91)
        if START + datetime.timedelta(days=n) not in sampled
    )
    emulator = make_emulator(trends_wrong_days=(day,))
    with caplog.at_level(logging.WARNING):
        run = run_tap(config_for(emulator))
    assert trends_warnings(caplog) == []
    (record,) = [r for r in run.records if r["to_date"] == day.isoformat()]
    assert record["count"] == truth(emulator, LAUNCHES, record["from_date"], record["to_date"]) + 1
    assert record["counted_by"] == "trends"
    by = Counter(r["counted_by"] for r in run.records)
    assert by == {"trends": 91 - CHECKED_DAYS, "profiles": CHECKED_DAYS}


def test_overlapping_backlogs_of_one_event_ask_each_day_once(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Two daily queries of one event with different start dates: one series, one check, no
    day posted twice to either API; a re-counted day of one goes to the own endpoint for both."""
    later = {**LAUNCHES, "name": "launches_feb", "start_date": "2024-02-01"}
    first = run_tap(
        config_for(emulator, queries=[later], end_date="2024-03-20", backfill_with_trends=False)
    )
    emulator.clear_log()
    config = config_for(emulator, queries=[LAUNCHES, later], lookback_days=5)
    with caplog.at_level(logging.INFO):
        run = run_tap(config, state=copy.deepcopy(first.state))
    assert_exact(emulator, config, run)
    names = Counter(r["query_name"] for r in run.records)
    assert names == {"launches": 91, "launches_feb": 16}  # Mar 16 to 31: 5 re-counted, 11 new
    own = own_days(emulator)
    assert len(own) == len(set(own))
    recounted = [Date(2024, 3, d) for d in range(16, 21)]
    assert set(recounted) <= set(own)
    series = sorted((ymd(b["from"]), ymd(b["to"])) for b in submits(emulator, TRENDS))
    trends_days = [
        first + datetime.timedelta(days=n)
        for first, last in series
        for n in range((last - first).days + 1)
    ]
    assert len(trends_days) == len(set(trends_days))  # no two series overlap
    assert set(trends_days) == {START + datetime.timedelta(days=n) for n in range(91)} - set(
        recounted
    )
    assert series[0] == (START, Date(2024, 3, 15)) and series[1] == (Date(2024, 3, 21), END)
    by_day = {(r["query_name"], r["to_date"]): r["counted_by"] for r in run.records}
    for day in recounted:
        assert by_day["launches", day.isoformat()] == by_day["launches_feb", day.isoformat()]
        assert by_day["launches", day.isoformat()] == "profiles"
    (line,) = trends_lines(caplog)
    assert (
        "launches (profile_counts): 86 days" in line
        and "launches_feb (profile_counts): 11 days" in line
    )


def test_one_line_names_every_query_and_why(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    queries: list[dict[str, Any]] = [
        LAUNCHES,
        PIZZA,
        {"name": "weekly", "event_name": "Charged", "granularity": "week"},
        {"name": "short", "event_name": "Charged", "start_date": "2024-03-10"},
    ]
    config = config_for(emulator, queries=queries)
    with caplog.at_level(logging.INFO):
        run = run_tap(config)
    assert_exact(emulator, config, run)
    (line,) = trends_lines(caplog)
    assert "launches (profile_counts): 91 days" in line
    assert "pizza (profile_counts): filtered" in line
    assert "weekly (profile_counts): granularity week" in line
    assert "short (profile_counts): 22 days owed, under 30" in line
    caplog.clear()  # nothing owed: still the line
    with caplog.at_level(logging.INFO):
        nothing = run_tap(config, state=copy.deepcopy(run.state))
    assert nothing.records == []
    (line,) = trends_lines(caplog)
    assert "launches (profile_counts): 0 days owed, under 30" in line
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_tap(config_for(emulator, queries=[PIZZA]))
    (line,) = trends_lines(caplog)
    assert (
        "through Trends" in line
        and ": none." in line
        and "pizza (profile_counts): filtered" in line
    )


def test_a_bookmark_moved_back_re_counts_trends_rows_on_the_own_endpoint(
    emulator: Emulator,
) -> None:
    """The README's way to replace `trends` rows: move the bookmark back, the setting still on."""
    first = run_tap(config_for(emulator))
    assert "trends" in {r["counted_by"] for r in first.records}
    assert first.state is not None
    state = copy.deepcopy(first.state)
    (partition,) = state["bookmarks"]["profile_counts"]["partitions"]
    partition["replication_key_value"] = "2024-01-31"
    emulator.clear_log()
    config = config_for(emulator)
    again = run_tap(config, state=state)
    assert_exact(emulator, config, again)
    assert [r["to_date"] for r in again.records] == [
        (Date(2024, 2, 1) + datetime.timedelta(days=n)).isoformat() for n in range(60)
    ]
    assert submits(emulator, TRENDS) == []
    assert {r["counted_by"] for r in again.records} == {"profiles"}
