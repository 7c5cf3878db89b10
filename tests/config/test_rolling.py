"""Rolling windows (`rolling_<N>d`) against the emulator: exact, whole, incremental, lookback.

Windows are computed here independently of the tap (each day D from start + N - 1 on gives
[D - N + 1, D]); expected counts come from the emulator's event store.
"""

from __future__ import annotations

import datetime
from typing import Any

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import LAUNCHES, PIZZA, assert_exact, bookmarks, run_tap, tap_config, truth

D = datetime.date


def windows(days: int, start: D, end: D) -> list[tuple[str, str]]:
    out = []
    last = start + datetime.timedelta(days=days - 1)
    while last <= end:
        out.append(((last - datetime.timedelta(days=days - 1)).isoformat(), last.isoformat()))
        last += datetime.timedelta(days=1)
    return out


def submitted(emulator: Emulator) -> list[tuple[str, str, str]]:
    """(event, from, to) of every submit, dates as YYYY-MM-DD."""

    def iso(value: int) -> str:
        return datetime.datetime.strptime(str(value), "%Y%m%d").date().isoformat()

    return [
        (entry["body"]["event_name"], iso(entry["body"]["from"]), iso(entry["body"]["to"]))
        for entry in emulator.requests()
        if entry["kind"] == "submit" and isinstance(entry["body"], dict)
    ]


def query(name: str, granularity: str, base: dict[str, Any] = PIZZA) -> dict[str, Any]:
    return {**base, "name": name, "granularity": granularity}


def test_daily_weekly_and_monthly_actives_are_exact_whole_windows(emulator: Emulator) -> None:
    start, end = D(2024, 3, 1), D(2024, 4, 5)
    queries = [query("dau", "day"), query("wau", "rolling_7d"), query("mau", "rolling_30d")]
    config = tap_config(
        emulator, start_date=start.isoformat(), end_date=end.isoformat(), queries=queries
    )
    run = run_tap(config)
    by_query: dict[str, list[tuple[str, str]]] = {}
    for record in run.records:
        by_query.setdefault(record["query_name"], []).append(
            (record["from_date"], record["to_date"])
        )
    assert by_query["wau"] == windows(7, start, end)
    assert by_query["mau"] == windows(30, start, end)
    assert by_query["mau"][0] == ("2024-03-01", "2024-03-30")  # the first whole window
    assert len(by_query["dau"]) == 36
    assert_exact(emulator, config, run)
    # Distinct counts: a window is at least its busiest day, and below the sum of its days
    # (the same profiles come back), which is why only CleverTap can count it.
    counts = {(r["query_name"], r["to_date"]): r["count"] for r in run.records}
    for first, last in by_query["wau"]:
        days = [
            counts["dau", (D.fromisoformat(first) + datetime.timedelta(days=i)).isoformat()]
            for i in range(7)
        ]
        assert max(days) <= counts["wau", last] < sum(days)


def test_rolling_windows_resume_after_their_bookmark_and_honour_the_lookback(
    emulator: Emulator,
) -> None:
    queries = [query("wau", "rolling_7d"), query("launch_wau", "rolling_7d", LAUNCHES)]
    first = run_tap(tap_config(emulator, end_date="2024-03-20", queries=queries))
    assert bookmarks(first.state) == {"wau": "2024-03-20", "launch_wau": "2024-03-20"}

    emulator.clear_log()
    config = tap_config(emulator, end_date="2024-03-23", queries=queries, lookback_days=2)
    second = run_tap(config, state=first.state)
    # lookback 2 re-counts the windows ending on the last 2 days of the bookmark, then the new
    expected = [(w[0], w[1]) for w in windows(7, D(2024, 3, 1), D(2024, 3, 23))[-5:]]
    assert [(r["from_date"], r["to_date"]) for r in second.records if r["query_name"] == "wau"] == (
        expected
    )
    assert sorted(submitted(emulator)) == sorted(
        [(PIZZA["event_name"], *w) for w in expected]
        + [(LAUNCHES["event_name"], *w) for w in expected]
    )
    assert_exact(emulator, config, second)
    assert bookmarks(second.state) == {"wau": "2024-03-23", "launch_wau": "2024-03-23"}


def test_a_changed_window_length_restarts_only_that_query(emulator: Emulator) -> None:
    before = [query("active", "rolling_7d"), query("daily", "day", LAUNCHES)]
    first = run_tap(tap_config(emulator, end_date="2024-03-15", queries=before))

    emulator.clear_log()
    after = [query("active", "rolling_28d"), query("daily", "day", LAUNCHES)]
    config = tap_config(emulator, start_date="2024-02-01", end_date="2024-03-16", queries=after)
    second = run_tap(config, state=first.state)
    active = [(r["from_date"], r["to_date"]) for r in second.records if r["query_name"] == "active"]
    # counted again from the tap's start (2024-02-01 now), as 28-day windows
    assert active == windows(28, D(2024, 2, 1), D(2024, 3, 16))
    daily = [r["to_date"] for r in second.records if r["query_name"] == "daily"]
    # the unchanged query keeps its bookmark, and counts the days before its old start once
    assert daily == [f"2024-02-{day:02d}" for day in range(1, 30)] + ["2024-03-16"]
    assert {r["granularity"] for r in second.records if r["query_name"] == "active"} == {
        "rolling_28d"
    }
    for record in second.records:
        expected = truth(
            emulator,
            {q["name"]: q for q in after}[record["query_name"]],
            record["from_date"],
            record["to_date"],
        )
        assert record["count"] == expected


def test_a_window_longer_than_the_range_counts_nothing(emulator: Emulator) -> None:
    config = tap_config(emulator, end_date="2024-03-10", queries=[query("mau", "rolling_30d")])
    run = run_tap(config)
    assert run.records == []
    assert emulator.requests() == []
