"""The `profile_counts` stream against the emulator: exact counts, periods, bookmarks, lookback."""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, Emulator, ManualClock
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    TapRun,
    assert_exact,
    bookmarks,
    run_tap,
    tap_config,
    tap_workers,
    wait_for_workers_to_end,
    wait_until,
)


def submitted(emulator: Emulator) -> list[tuple[str, int, int]]:
    """(event, from, to) of every query submission the emulator received."""
    return [
        (entry["body"]["event_name"], entry["body"]["from"], entry["body"]["to"])
        for entry in emulator.requests()
        if entry["kind"] == "submit" and isinstance(entry["body"], dict)
    ]


def test_day_week_month_counts_are_exact_and_aligned(emulator: Emulator) -> None:
    queries = [
        {**PIZZA, "granularity": "day"},
        {**LAUNCHES, "name": "weekly", "granularity": "week"},
        {"name": "monthly", "event_name": "Charged", "granularity": "month"},
    ]
    config = tap_config(
        emulator,
        start_date="2024-01-03",
        end_date="2024-03-30",
        queries=queries,
        max_concurrent_queries=3,
    )
    run = run_tap(config)
    by_query: dict[str, list[tuple[str, str]]] = {}
    for record in run.records:
        by_query.setdefault(record["query_name"], []).append(
            (record["from_date"], record["to_date"])
        )
    days = by_query["pizza"]
    assert days[0] == ("2024-01-03", "2024-01-03")
    assert days[-1] == ("2024-03-30", "2024-03-30")
    assert len(days) == 88  # 29 days of January from the 3rd, 29 of February, 30 of March
    # ISO weeks, whole ones only: the first Monday on or after Jan 3 is Jan 8; the last whole
    # week ends Sunday Mar 24 (Mar 25-31 is cut by the end date Mar 30).
    weeks = by_query["weekly"]
    assert weeks[0] == ("2024-01-08", "2024-01-14")
    assert weeks[-1] == ("2024-03-18", "2024-03-24")
    assert len(weeks) == 11
    # Calendar months, whole ones only: January began before the start date and March
    # ends after the end date, so February is the only whole month.
    assert by_query["monthly"] == [("2024-02-01", "2024-02-29")]
    assert_exact(emulator, config, run)
    assert {r["granularity"] for r in run.records} == {"day", "week", "month"}


def test_records_carry_the_contract_fields(emulator: Emulator) -> None:
    config = tap_config(emulator, start_date="2024-03-01", end_date="2024-03-02")
    run = run_tap(config)
    assert run.records[0] == {
        "account_id": DEMO_ACCOUNT_ID,
        "query_name": "pizza",
        "from_date": "2024-03-01",
        "to_date": "2024-03-01",
        "count": run.records[0]["count"],
        "event_name": "choseNewFavoriteFood",
        "event_properties": [{"name": "value", "operator": "contains", "value": "piz"}],
        "granularity": "day",
        "counted_by": "profiles",
    }
    assert_exact(emulator, config, run)
    # ascending to_date within each query, queries in config order
    assert run.periods() == [
        ("pizza", "2024-03-01", "2024-03-01"),
        ("pizza", "2024-03-02", "2024-03-02"),
        ("launches", "2024-03-01", "2024-03-01"),
        ("launches", "2024-03-02", "2024-03-02"),
    ]


def test_second_run_asks_only_for_new_periods(emulator: Emulator) -> None:
    first = run_tap(tap_config(emulator, end_date="2024-03-10"))
    assert bookmarks(first.state) == {"pizza": "2024-03-10", "launches": "2024-03-10"}
    emulator.clear_log()
    config = tap_config(emulator, end_date="2024-03-12")
    second = run_tap(config, state=first.state)
    assert sorted(set(submitted(emulator))) == [
        ("App Launched", 20240311, 20240311),
        ("App Launched", 20240312, 20240312),
        ("choseNewFavoriteFood", 20240311, 20240311),
        ("choseNewFavoriteFood", 20240312, 20240312),
    ]
    assert [key[1] for key in second.periods()] == ["2024-03-11", "2024-03-12"] * 2
    assert_exact(emulator, config, second)
    assert bookmarks(second.state) == {"pizza": "2024-03-12", "launches": "2024-03-12"}


def test_a_run_with_nothing_new_sends_no_request(emulator: Emulator) -> None:
    config = tap_config(emulator)
    first = run_tap(config)
    emulator.clear_log()
    again = run_tap(config, state=first.state)
    assert again.records == []
    assert emulator.requests() == []
    assert bookmarks(again.state) == bookmarks(first.state)


def test_lookback_recounts_exactly_n_days_and_never_moves_bookmarks_back(
    emulator: Emulator,
) -> None:
    config = tap_config(emulator)
    first = run_tap(config)
    emulator.clear_log()
    lookback = tap_config(emulator, lookback_days=3, end_date="2024-03-11")
    second = run_tap(lookback, state=first.state)
    assert [key[1] for key in second.periods() if key[0] == "pizza"] == [
        "2024-03-08",
        "2024-03-09",
        "2024-03-10",
        "2024-03-11",
    ]
    assert len(submitted(emulator)) == 8
    assert_exact(emulator, lookback, second)
    for state in second.states:
        for value in bookmarks(state).values():
            assert value >= "2024-03-10"
    assert bookmarks(second.state) == {"pizza": "2024-03-11", "launches": "2024-03-11"}


def test_lookback_on_weeks_recounts_the_weeks_it_reaches(emulator: Emulator) -> None:
    weekly = [{**LAUNCHES, "granularity": "week"}]
    config = tap_config(emulator, start_date="2024-03-04", end_date="2024-03-24", queries=weekly)
    first = run_tap(config)
    assert bookmarks(first.state) == {"launches": "2024-03-24"}
    emulator.clear_log()
    second = run_tap({**config, "lookback_days": 8}, state=first.state)
    # 8 days back from Sunday Mar 24 reaches into the week ending Mar 17
    assert second.periods() == [
        ("launches", "2024-03-11", "2024-03-17"),
        ("launches", "2024-03-18", "2024-03-24"),
    ]


def test_a_changed_query_starts_again_and_the_others_keep_their_bookmarks(
    emulator: Emulator,
) -> None:
    config = tap_config(emulator, end_date="2024-03-05")
    first = run_tap(config)
    emulator.clear_log()
    sushi = {
        **PIZZA,
        "event_properties": [{"name": "value", "operator": "equals", "value": "sushi"}],
    }
    changed = tap_config(emulator, end_date="2024-03-05", queries=[sushi, LAUNCHES])
    second = run_tap(changed, state=first.state)
    assert second.periods() == [("pizza", f"2024-03-0{d}", f"2024-03-0{d}") for d in range(1, 6)]
    assert all(event == "choseNewFavoriteFood" for event, _, _ in submitted(emulator))
    assert_exact(emulator, changed, second)
    # unchanged: a third run asks nothing at all
    emulator.clear_log()
    third = run_tap(changed, state=second.state)
    assert third.records == []
    assert emulator.requests() == []


def test_a_query_start_date_overrides_the_tap_start_date(emulator: Emulator) -> None:
    late = {**LAUNCHES, "start_date": "2024-03-08"}
    config = tap_config(emulator, queries=[PIZZA, late])
    run = run_tap(config)
    assert [k[1] for k in run.periods() if k[0] == "launches"] == [
        "2024-03-08",
        "2024-03-09",
        "2024-03-10",
    ]
    assert len([k for k in run.periods() if k[0] == "pizza"]) == 10


def test_end_date_defaults_to_yesterday_in_the_account_time_zone(make_emulator: Any) -> None:
    """At 11:00 UTC on March 31 (the tap's `now`, not the clock) it is April 1 in Kiritimati
    (UTC+14) and still March 31 in Pago Pago (UTC-11) and UTC."""
    emulator = make_emulator(today=datetime.date(2024, 4, 1))
    now = datetime.datetime(2024, 3, 31, 11, tzinfo=datetime.UTC)
    expected = {"Pacific/Kiritimati": "2024-03-31", "Pacific/Pago_Pago": "2024-03-30"}
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"):
        config = tap_config(emulator, start_date="2024-03-27", timezone=zone)
        del config["end_date"]
        run = run_tap(config, now=now)
        assert run.records[-1]["to_date"] == expected.get(zone, "2024-03-30"), zone
        assert max(r["to_date"] for r in run.records) == run.records[-1]["to_date"]


def test_jobs_run_concurrently_up_to_the_setting(make_emulator: Any, clock: ManualClock) -> None:
    """The first three jobs stay pending until the test has seen all three in flight (time is
    the test's input: a loaded machine cannot let one end before the third is sent)."""
    emulator = make_emulator(partial_share=1.0, job_seconds=5, clock=clock)
    config = tap_config(emulator, max_concurrent_queries=3)
    runs: list[TapRun] = []
    thread = threading.Thread(target=lambda: runs.append(run_tap(config)))
    thread.start()
    try:
        # Jobs that exist, not slots taken: a submit counts in the peak while it is read, and
        # its job would start after the clock moved, ending 5 s later on a clock that stays.
        wait_until(lambda: emulator.running_jobs() >= 3, "three jobs running")
    finally:
        emulator.update(job_seconds=0.0)  # the jobs after these end at once
        clock.advance(5)
        thread.join(timeout=120)
    assert not thread.is_alive()
    (run,) = runs
    assert len(run.records) == 20
    assert_exact(emulator, config, run)
    assert emulator.inflight_peak() == 3
    assert not [e for e in emulator.requests() if e["status"] == 429]


def test_state_after_every_record_only_covers_emitted_records(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.02)
    run = run_tap(tap_config(emulator, max_concurrent_queries=4))
    # Rebuild, message by message, what had been emitted when each STATE was written.
    emitted: dict[str, str] = {}
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            record = message["record"]
            emitted[record["query_name"]] = record["to_date"]
        elif message["type"] == "STATE":
            for query, bookmark in bookmarks(message["value"]).items():
                assert bookmark <= emitted[query]
    assert bookmarks(run.state) == {"pizza": "2024-03-10", "launches": "2024-03-10"}


def test_a_query_with_nothing_to_count_after_the_others_sends_nothing_more(
    emulator: Emulator,
) -> None:
    """The last partition has no period: the jobs of the earlier ones are not planned again."""
    monthly = {"name": "monthly", "event_name": "Charged", "granularity": "month"}
    config = tap_config(emulator, queries=[PIZZA, monthly], end_date="2024-03-10")
    first = run_tap(config)
    emulator.clear_log()
    before = tap_workers()
    second = run_tap({**config, "lookback_days": 2}, state=first.state)
    assert second.periods() == [
        ("pizza", "2024-03-09", "2024-03-09"),
        ("pizza", "2024-03-10", "2024-03-10"),
    ]
    wait_for_workers_to_end(tap_workers() - before)  # a stray one would have submitted
    assert len(submitted(emulator)) == 2
