"""`backfill_with_trends` (issue 18): a daily backlog of an unfiltered query counted through
Trends, checked against the query's own endpoint, and the same records, order, bookmarks,
lookback as without it (failures of Trends: test_trends_fallback.py; SIGKILL and resume:
test_trends_resume.py). Expected periods come from tests/oracle.py, counts from the emulator's
event store.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
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
from tests.oracle import final_bookmark, owed, ymd
from tests.singer.test_event_counts import EVENTS, PROFILES, catalog_selecting

TRENDS = "/1/counts/trends.json"
CHARGED: dict[str, Any] = {"name": "charged", "event_name": "Charged"}
WEEKLY: dict[str, Any] = {"name": "weekly", "event_name": "App Launched", "granularity": "week"}
QUERIES: list[dict[str, Any]] = [
    LAUNCHES,
    PIZZA,
    CHARGED,
    WEEKLY,
]  # two of them eligible: unfiltered and daily
ELIGIBLE = ("launches", "charged")
START, END = datetime.date(2024, 1, 1), datetime.date(2024, 3, 31)
BOTH = ("profile_counts", "event_counts")
THRESHOLD_DAYS = 30  # documented in the README's Speed section
CHECKED_DAYS = 7  # days of each series also counted through the own endpoint (documented)
OWN_NAME = {PROFILES: "profiles", EVENTS: "events"}
Date = datetime.date


def config_for(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "queries": QUERIES,
        "max_concurrent_queries": 3,
        "count_events": True,  # the tests that select event_counts count it
    }
    return tap_config(emulator, **{**settings, **overrides})


def submits(emulator: Emulator, path: str) -> list[dict[str, Any]]:
    return [
        e["body"]
        for e in emulator.requests()
        if e["kind"] == "submit" and e["path"] == path and e["status"] == 200
    ]


def state_with(marks: dict[str, str], reference: TapRun) -> dict[str, Any]:
    """A state holding `marks` as bookmarks, with the fingerprints a real run wrote (a bookmark
    moved back by hand would make the days after it re-counts, never Trends')."""
    assert reference.state is not None
    state: dict[str, Any] = {"bookmarks": {}}
    for stream, entry in reference.state["bookmarks"].items():
        partitions = []
        for partition in entry["partitions"]:
            name = partition["context"]["query_name"]
            if name in marks:  # as a run from START to the mark wrote it
                counted = [[START.isoformat(), marks[name]]]
                partitions.append(
                    {
                        **partition,
                        "replication_key_value": marks[name],
                        "counted_to_dates": counted,
                    }
                )
        state["bookmarks"][stream] = {"partitions": partitions}
    return state


def expected_periods(marks: dict[str, str], lookback: int) -> list[tuple[str, str, str]]:
    out = []
    for query in QUERIES:
        mark = marks.get(str(query["name"]))
        periods = owed(
            str(query.get("granularity", "day")),
            START,
            END,
            Date.fromisoformat(mark) if mark else None,
            lookback,
        )
        out += [(str(query["name"]), a.isoformat(), b.isoformat()) for a, b in periods]
    return out


def trends_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "one by one" in r.getMessage()
    ]


# --- the same output as without it -----------------------------------------------------------


@pytest.mark.parametrize(
    ("marks", "lookback"),
    [
        ({}, 0),  # a first backfill
        ({"launches": "2024-02-10", "charged": "2024-01-20", "pizza": "2024-03-01"}, 3),
        ({"launches": "2024-03-01", "charged": "2024-02-29"}, 7),  # 31+7 and 32+7 days owed
    ],
)
def test_the_same_records_order_and_bookmarks_as_without_it(
    make_emulator: Callable[..., Emulator], marks: dict[str, str], lookback: int
) -> None:
    catalog = catalog_selecting(*BOTH)
    reference = run_tap(config_for(make_emulator()), catalog=catalog)
    state = state_with(marks, reference) if marks else None
    runs = {}
    for with_trends in (False, True):
        emulator = make_emulator(partial_share=0.5, job_seconds=0.02)
        config = config_for(emulator, lookback_days=lookback, backfill_with_trends=with_trends)
        given = copy.deepcopy(state)  # the SDK updates the state it is given in place
        run = runs[with_trends] = run_tap(config, state=given, catalog=catalog)
        assert_exact(emulator, config, run)
        expected = expected_periods(marks, lookback)
        assert run.periods() == expected
        assert [(r["query_name"], r["from_date"], r["to_date"]) for r in run.event_records] == (
            expected
        )
        for stream in BOTH:
            for query in QUERIES:
                name = str(query["name"])
                mine = [Date.fromisoformat(d) for n, _, d in expected if n == name]
                before = Date.fromisoformat(marks[name]) if name in marks else None
                mark = final_bookmark([(d, d) for d in mine], before)
                assert bookmarks(run.state, stream).get(name) == (mark and mark.isoformat())
        if with_trends:
            check_requests(emulator, expected, marks, run)
        else:
            assert {r["counted_by"] for r in run.records} == {"profiles"}
            assert {r["counted_by"] for r in run.event_records} == {"events"}
    for stream in ("records", "event_records"):
        with_it, without = (
            [{k: v for k, v in r.items() if k != "counted_by"} for r in getattr(runs[on], stream)]
            for on in (True, False)
        )
        assert with_it == without
    assert runs[True].state == runs[False].state


def check_requests(
    emulator: Emulator, expected: list[tuple[str, str, str]], marks: dict[str, str], run: TapRun
) -> None:
    """One Trends job per eligible (stream, query), over its never-counted days only; on its
    own endpoint, its re-counted (lookback) days and 7 checked days of the series, the first
    and the last among them; every other query asked period by period. Records of the days
    Trends counted say so."""
    for path, unique, records in (
        (PROFILES, True, run.records),
        (EVENTS, False, run.event_records),
    ):
        own = Counter((b["event_name"], b["from"], b["to"]) for b in submits(emulator, path))
        trends = [b for b in submits(emulator, TRENDS) if b["unique"] is unique]
        assert len(trends) == len(ELIGIBLE)
        by = {(r["query_name"], r["to_date"]): r["counted_by"] for r in records}
        for query in QUERIES:
            name, event = str(query["name"]), str(query["event_name"])
            days = [
                (int(a.replace("-", "")), int(b.replace("-", "")))
                for n, a, b in expected
                if n == name
            ]
            asked = sorted((a, b) for (e, a, b), _ in own.items() if e == event and (a, b) in days)
            if name in ELIGIBLE:
                mark = int(marks.get(name, "0").replace("-", ""))
                recount = [d for d in days if d[1] <= mark]
                fresh = [d for d in days if d[1] > mark]
                checked = sorted(set(asked) - set(recount))
                assert set(recount) <= set(asked), name
                assert len(checked) == CHECKED_DAYS, name
                assert checked[0] == fresh[0] and checked[-1] == fresh[-1], name
                (series,) = [b for b in trends if b["event_name"] == event]
                assert (series["from"], series["to"]) == (fresh[0][0], fresh[-1][1])
                assert series["groups"] == {"daily": {"trend_type": "daily"}}
                for day in days:
                    iso = ymd(day[1]).isoformat()
                    assert by[name, iso] == (OWN_NAME[path] if day in asked else "trends")
            elif name != "weekly":  # weekly shares its event with launches: judged by days
                assert asked == days, name
            if name not in ELIGIBLE:
                assert {by[name, b] for n, _, b in expected if n == name} == {OWN_NAME[path]}
        assert max(own.values()) == 1


def test_a_backlog_shorter_than_the_threshold_is_counted_day_by_day(
    make_emulator: Callable[..., Emulator],
) -> None:
    for days, through_trends in ((THRESHOLD_DAYS - 1, False), (THRESHOLD_DAYS, True)):
        emulator = make_emulator()
        end = START + datetime.timedelta(days=days - 1)
        config = config_for(
            emulator, end_date=end.isoformat(), queries=[LAUNCHES], backfill_with_trends=True
        )
        run = run_tap(config)
        assert_exact(emulator, config, run)
        assert len(run.records) == days
        assert bool(submits(emulator, TRENDS)) is through_trends
        assert len(submits(emulator, PROFILES)) == (CHECKED_DAYS if through_trends else days)


def test_a_backlog_over_a_year_is_asked_in_spans_of_at_most_a_year(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator()
    start, end = Date(2022, 11, 15), Date(2024, 3, 31)  # 503 days
    config = config_for(
        emulator,
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        queries=[LAUNCHES],
        backfill_with_trends=True,
    )
    run = run_tap(config)
    assert_exact(emulator, config, run)
    assert len(run.records) == (end - start).days + 1
    spans = sorted((ymd(b["from"]), ymd(b["to"])) for b in submits(emulator, TRENDS))
    assert spans[0][0] == start and spans[-1][1] == end
    for (_, last), (first, _) in itertools.pairwise(spans):
        assert first == last + datetime.timedelta(days=1)
    assert all((b - a).days + 1 <= 365 for a, b in spans)
    assert len(spans) == 2
    assert len(submits(emulator, PROFILES)) == 2 * CHECKED_DAYS  # each series checked


def test_identical_queries_share_one_series_and_one_check(
    make_emulator: Callable[..., Emulator],
) -> None:
    """Two queries differing only in name ask one Trends job and one check between them; a
    third one, filtered, shares none of it (and counts its days itself)."""
    emulator = make_emulator(partial_share=0.5, job_seconds=0.02)
    again = {**LAUNCHES, "name": "launches_again"}
    queries: list[dict[str, Any]] = [LAUNCHES, again, PIZZA, {**PIZZA, "name": "pizza_again"}]
    config = config_for(emulator, queries=queries, backfill_with_trends=True)
    run = run_tap(config)
    assert_exact(emulator, config, run)
    days = (END - START).days + 1
    assert Counter(r["query_name"] for r in run.records) == {q["name"]: days for q in queries}
    assert len(submits(emulator, TRENDS)) == 1
    own = Counter((b["event_name"], b["from"]) for b in submits(emulator, PROFILES))
    assert max(own.values()) == 1
    assert sum(1 for event, _ in own if event == "App Launched") == CHECKED_DAYS
    assert sum(1 for event, _ in own if event == "choseNewFavoriteFood") == days


def test_the_setting_takes_a_boolean_or_its_text_and_refuses_anything_else(
    emulator: Emulator, tmp_path: Path
) -> None:
    bad = run_cli([], config_for(emulator, backfill_with_trends="yes"), tmp_path)
    assert bad.returncode != 0
    assert "backfill_with_trends must be true or false, got 'yes'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert emulator.requests() == []
    config = config_for(emulator, queries=[LAUNCHES], backfill_with_trends="true")  # as text
    (tmp_path / "good").mkdir()
    good = run_cli([], config, tmp_path / "good")
    assert good.returncode == 0, good.stderr[-2000:]
    assert len(submits(emulator, TRENDS)) == 1
