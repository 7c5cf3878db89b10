"""Real-world runs (issue 9): randomized scenarios against an independent oracle.

Each scenario draws a config (1-6 queries mixing granularities, per-query start dates,
`lookback_days`, an end date or none), the emulator's "today", and a state (no bookmark, an old
or a current one, one whose fingerprint is another definition's or garbage). Expected values come
from tests/oracle.py (period arithmetic written from the contract) and the emulator's event
store, never from the tap. The run goes over real HTTP to the in-process emulator, and the
checks are on its records, its last STATE and the emulator's request log:

- the POST submits are exactly the (query, period) pairs owed, each asked once;
- records come in config order of queries, ascending to_date within each;
- every count equals the emulator's ground truth;
- the final bookmarks are the last to_date owed (or the old bookmark when nothing is new;
  bookmarks never move back), a changed fingerprint counting again from the query's start.

Fingerprints in the states are taken from real earlier runs' STATE (a calibration run per
definition), so the tests do not depend on how the tap computes them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import assert_exact, bookmarks, run_cli, run_tap, tap_config
from tests.oracle import all_periods, final_bookmark, owed
from tests.scenarios import DEFINITIONS, Date, make_scenario, query, run_scenario, submits_by_query

CALENDAR_CASES = 40
ROLLING_CASES = 24
FAULT_CASES = 10


@pytest.mark.parametrize("case", range(CALENDAR_CASES))
def test_random_scenario_day_week_month(make_emulator: Callable[..., Emulator], case: int) -> None:
    run_scenario(make_emulator, make_scenario(f"calendar|{case}", rolling=False), faults={})


@pytest.mark.parametrize("case", range(ROLLING_CASES))
def test_random_scenario_with_rolling_windows(
    make_emulator: Callable[..., Emulator], case: int
) -> None:
    run_scenario(make_emulator, make_scenario(f"rolling|{case}", rolling=True), faults={})


@pytest.mark.parametrize("case", range(FAULT_CASES))
def test_random_scenario_through_faults(make_emulator: Callable[..., Emulator], case: int) -> None:
    scenario = make_scenario(f"faults|{case}", rolling=case % 2 == 1)
    faults = {
        "fault_429": 0.08,
        "fault_500": 0.08,
        "fault_503": 0.08,
        "expire_share": 0.15,
        "async_fail_share": 0.05,
    }
    run_scenario(make_emulator, scenario, faults=faults)


# --- the oracle itself, on cases worked out by hand -----------------------------------------


def test_the_oracle_on_hand_worked_cases() -> None:
    start, end = Date(2024, 1, 3), Date(2024, 3, 30)
    assert len(all_periods("day", start, end)) == 88
    weeks = all_periods("week", start, end)
    assert (weeks[0], weeks[-1], len(weeks)) == (
        (Date(2024, 1, 8), Date(2024, 1, 14)),
        (Date(2024, 3, 18), Date(2024, 3, 24)),
        11,
    )
    assert all_periods("month", start, end) == [(Date(2024, 2, 1), Date(2024, 2, 29))]
    assert all_periods("month", Date(2024, 2, 1), Date(2024, 2, 28)) == []
    assert all_periods("rolling_7d", Date(2024, 3, 1), Date(2024, 3, 8)) == [
        (Date(2024, 3, 1), Date(2024, 3, 7)),
        (Date(2024, 3, 2), Date(2024, 3, 8)),
    ]
    assert all_periods("rolling_366d", Date(2024, 1, 1), Date(2024, 12, 31)) == [
        (Date(2024, 1, 1), Date(2024, 12, 31))
    ]
    # lookback 8 from Sunday Mar 24 reaches the week ending Mar 17
    assert owed("week", Date(2024, 3, 4), Date(2024, 3, 31), Date(2024, 3, 24), 8) == [
        (Date(2024, 3, 11), Date(2024, 3, 17)),
        (Date(2024, 3, 18), Date(2024, 3, 24)),
        (Date(2024, 3, 25), Date(2024, 3, 31)),
    ]
    assert owed("day", Date(2024, 3, 1), Date(2024, 3, 11), Date(2024, 3, 10), 3)[0] == (
        Date(2024, 3, 8),
        Date(2024, 3, 8),
    )
    assert final_bookmark([], Date(2024, 3, 10)) == Date(2024, 3, 10)
    assert final_bookmark([(Date(2024, 3, 4), Date(2024, 3, 10))], Date(2024, 3, 13)) == Date(
        2024, 3, 13
    )


# --- plan once --------------------------------------------------------------------------------


def plan_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "counting " in line and " periods" in line]


PLACES = {  # where the weekly (W) and monthly (M) queries sit among the 9 daily ones
    "second_and_third": (1, 2),
    "first_and_second": (0, 1),
    "last_two": (9, 10),
    "first_and_last": (0, 10),
}


@pytest.mark.parametrize("place", list(PLACES))
def test_a_run_plans_once_whatever_the_order_of_queries_owing_nothing(
    make_emulator: Callable[..., Emulator],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    place: str,
) -> None:
    """9 daily queries, a weekly and a monthly one (2nd and 3rd: the regression); on a
    Wednesday the daily ones owe one day each and the weekly and monthly ones nothing:
    9 submits, 9 records, one plan."""
    emulator = make_emulator(partial_share=0.5, job_seconds=0.005, today=Date(2024, 3, 20))
    tuesday, wednesday = Date(2024, 3, 12), Date(2024, 3, 13)
    assert wednesday.weekday() == 2
    daily = [i for i in range(len(DEFINITIONS)) if i not in (2, 7)][:9]
    queries = [query(i, "day", tuesday) for i in daily]
    weekly_at, monthly_at = PLACES[place]
    queries.insert(weekly_at, query(2, "week", Date(2024, 3, 4)))
    queries.insert(monthly_at, query(7, "month", Date(2024, 2, 1)))
    config = tap_config(emulator, start_date="2024-02-01", queries=queries)
    first = run_tap({**config, "end_date": tuesday.isoformat()})
    assert bookmarks(first.state) == {
        **{f"q{i}": "2024-03-12" for i in daily},
        "q2": "2024-03-10",
        "q7": "2024-02-29",
    }
    emulator.clear_log()
    second_config = {**config, "end_date": wednesday.isoformat()}
    if place == "second_and_third":  # the reported case, through the command
        run = run_cli([], second_config, tmp_path, state=first.state)
        assert run.returncode == 0, run.stderr[-2000:]
        log = run.stderr
    else:
        caplog.set_level(logging.INFO)
        caplog.clear()
        run = run_tap(second_config, state=first.state)
        log = "\n".join(record.getMessage() for record in caplog.records)
    asked = submits_by_query(emulator, queries)
    assert asked == Counter((f"q{i}", wednesday, wednesday) for i in daily), asked
    daily_order = [q["name"] for q in queries if q["granularity"] == "day"]
    assert run.periods() == [(name, "2024-03-13", "2024-03-13") for name in daily_order]
    assert_exact(emulator, second_config, run)
    lines = plan_lines(log)
    assert len(lines) == 1, lines
    assert "counting 9 periods" in lines[0], lines[0]
    assert bookmarks(run.state) == {
        **{f"q{i}": "2024-03-13" for i in daily},
        "q2": "2024-03-10",
        "q7": "2024-02-29",
    }


# --- output linear in the work ----------------------------------------------------------------


def state_bytes_per_record(stdout: str) -> tuple[float, int]:
    state_bytes, records = 0, 0
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "STATE":
            state_bytes += len(line) + 1
        elif message["type"] == "RECORD":
            records += 1
    return state_bytes / records, records


def many_queries(n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        event, filters = DEFINITIONS[k % len(DEFINITIONS)]
        out.append({"name": f"m{k:03d}", "event_name": event, "event_properties": filters})
    return out


def test_state_output_per_record_does_not_grow_with_the_number_of_queries(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = make_emulator(partial_share=0.0, today=Date(2024, 3, 31))
    measured = {}
    for n in (20, 80):
        config = tap_config(
            emulator, start_date="2024-03-01", end_date="2024-03-03", queries=many_queries(n)
        )
        run = run_tap(config)
        per_record, records = state_bytes_per_record(run.stdout)
        assert records == 3 * n
        measured[n] = per_record
        # the last STATE covers every record
        assert bookmarks(run.state) == {f"m{k:03d}": "2024-03-03" for k in range(n)}
        assert_exact(emulator, config, run)
    print(f"STATE bytes per record: {measured}")
    assert measured[80] <= 1.6 * measured[20], measured
