"""Emulator → tap → `meltano run` → target-duckdb, three times, as a user's schedule would.

Run 1 backfills the dev queries of meltano.yml (day, week, month); run 2 (the scheduled job of
meltano.yml), with the emulator's "today" three weeks later, must ask only for the new periods;
run 3 re-counts with a lookback against an account whose counts changed (late events) and must
update those rows in place.
State lives in a file state backend of this module's own temp dir.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tests.e2e.helpers import (
    TAP,
    Period,
    Project,
    Row,
    asked_periods,
    assert_table,
    expected,
    ground_truth,
    read_rows,
    run_pipeline,
)

START = datetime.date(2025, 1, 1)
TODAY1 = datetime.date(2025, 2, 12)
END1 = TODAY1 - datetime.timedelta(days=1)
TODAY2 = datetime.date(2025, 3, 5)
END2 = TODAY2 - datetime.timedelta(days=1)
LOOKBACK = 3
JOB = "clevertap-to-duckdb"


@dataclasses.dataclass
class Runs:
    queries: list[dict[str, Any]]
    rows: list[list[Row]]
    asked: list[list[Period]]
    truth: list[dict[Period, int]]


@pytest.fixture(scope="module")
def runs(
    meltano_project: Project,
    dev_queries: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Runs:
    tmp = tmp_path_factory.mktemp("pipeline")
    db = tmp / "counts.duckdb"
    env = {
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp / 'state'}",
        "TARGET_DUCKDB_FILEPATH": str(db),
        "TAP_CLEVERTAP_COUNTS_START_DATE": START.isoformat(),
        "TAP_CLEVERTAP_COUNTS_POLL_INTERVAL_SECONDS": "0.01",
    }
    queries = dev_queries
    result = Runs(queries, [], [], [])

    def run(emulator: Emulator, end: datetime.date, *blocks: str, **extra: str) -> None:
        before = len(emulator.requests())
        run_env = {
            **env,
            **extra,
            "TAP_CLEVERTAP_COUNTS_API_URL": emulator.url,
            "TAP_CLEVERTAP_COUNTS_END_DATE": end.isoformat(),
        }
        run_pipeline(meltano_project, run_env, blocks or (TAP, "target-duckdb"))
        result.rows.append(read_rows(db))
        result.asked.append(asked_periods(queries, emulator.requests()[before:]))
        result.truth.append(ground_truth(emulator, queries, expected(queries, START, end)))

    emulator = Emulator(EmulatorConfig(today=TODAY1, job_seconds=0.01, partial_share=0.5))
    emulator.start()
    try:
        run(emulator, END1)
        emulator.set_today(TODAY2)
        run(emulator, END2, JOB)  # the scheduled job: the same pipeline, the same state
    finally:
        emulator.stop()
    # Late events: the same account now answers other counts (another seed) for every period.
    late = Emulator(EmulatorConfig(seed=7, today=TODAY2, job_seconds=0.01, partial_share=0.5))
    late.start()
    try:
        run(late, END2, TAP_CLEVERTAP_COUNTS_LOOKBACK_DAYS=str(LOOKBACK))
    finally:
        late.stop()
    return result


def test_dev_queries_cover_day_week_and_month(runs: Runs) -> None:
    assert {q.get("granularity", "day") for q in runs.queries} == {"day", "week", "month"}


def test_first_run_loads_one_row_per_period_with_exact_counts(runs: Runs) -> None:
    assert_table(runs.rows[0], runs.truth[0], runs.queries)
    assert sorted(runs.asked[0]) == sorted(runs.truth[0]), "each period asked for exactly once"


def test_second_run_asks_only_for_new_periods(runs: Runs) -> None:
    new = set(runs.truth[1]) - set(runs.truth[0])
    assert new, "the second run has new days, weeks and a month to count"
    assert {p[0] for p in new} == {q["name"] for q in runs.queries}
    assert sorted(runs.asked[1]) == sorted(new)
    assert_table(runs.rows[1], runs.truth[1], runs.queries)
    first = {r.period: r.batched_at for r in runs.rows[0]}
    rewritten = [
        r.period for r in runs.rows[1] if r.period in first and r.batched_at != first[r.period]
    ]
    assert not rewritten, "rows of the first run were loaded again"


def test_lookback_recounts_recent_periods_in_place(runs: Runs) -> None:
    asked = runs.asked[2]
    assert asked, "a lookback run re-counts something"
    assert len(asked) == len(set(asked))
    assert set(asked) <= set(runs.truth[1]), "nothing new to count: the end date did not move"
    # Every period that overlaps the LOOKBACK days up to its query's bookmark, and no other:
    # for the daily query the last three days, for the others the period holding those days.
    names = {q["name"] for q in runs.queries}
    bookmarks = {name: max(b for n, _, b in runs.truth[1] if n == name) for name in names}
    lookback = datetime.timedelta(days=LOOKBACK)
    window = {p for p in runs.truth[1] if p[2] > bookmarks[p[0]] - lookback}
    assert set(asked) == window
    (daily,) = [q["name"] for q in runs.queries if q.get("granularity", "day") == "day"]
    assert len([p for p in asked if p[0] == daily]) == LOOKBACK
    # The re-counted rows carry the late account's counts; every other row is untouched.
    truth = {p: (runs.truth[2][p] if p in set(asked) else c) for p, c in runs.truth[1].items()}
    assert_table(runs.rows[2], truth, runs.queries)
    assert any(runs.truth[2][p] != runs.truth[1][p] for p in asked), "the late counts differ"
    before = {r.period: r.batched_at for r in runs.rows[1]}
    for row in runs.rows[2]:
        assert (row.batched_at != before[row.period]) == (row.period in set(asked)), row.period
