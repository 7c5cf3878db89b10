"""`backfill_with_trends` when Trends cannot be trusted (issue 18): a series that disagrees with
the query's own endpoint, a 404 (no Trends), a 400, a 401, an answer of the wrong shape, and
faults mid-series. Each run must end with exact records, in the query's own order; where Trends
was not trusted, with one warning per (stream, query) and the days counted one by one. Faults
come from the emulator's switches and injection queue, never from timing.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import LAUNCHES, TapRun, assert_exact, run_tap
from tests.singer.test_event_counts import EVENTS, PROFILES, catalog_selecting

from .test_trends import (
    BOTH,
    CHARGED,
    CHECKED_DAYS,
    ELIGIBLE,
    TRENDS,
    config_for,
    expected_periods,
    submits,
    trends_warnings,
)

Date = datetime.date


def run_falling_back(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> tuple[TapRun, list[str]]:
    config = config_for(emulator, backfill_with_trends=True)
    with caplog.at_level(logging.WARNING):
        run = run_tap(config, catalog=catalog_selecting(*BOTH))
    assert_exact(emulator, config, run)
    expected = expected_periods({}, 0)
    assert run.periods() == expected
    assert [(r["query_name"], r["from_date"], r["to_date"]) for r in run.event_records] == expected
    return run, trends_warnings(caplog)


def test_a_series_that_disagrees_is_not_used(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    emulator = make_emulator(partial_share=0.5, job_seconds=0.02, trends_disagree=True)
    _, warnings = run_falling_back(emulator, caplog)
    # the unique series (profile counts) is off by one; the event series is right
    assert len(warnings) == len(ELIGIBLE)
    for name in ELIGIBLE:
        (line,) = [w for w in warnings if f"'{name}'" in w]
        assert "profile_counts" in line
        day = Date(2024, 1, 1)  # the first day owed, always checked
        query = LAUNCHES if name == "launches" else CHARGED
        own = emulator.store.count_profiles(str(query["event_name"]), [], day, day)
        assert f"Trends says {own + 1} for {day}" in line and f"says {own}:" in line
    own_days = {(b["event_name"], b["from"]) for b in submits(emulator, PROFILES)}
    assert {("Charged", 20240101 + n) for n in range(31)} <= own_days  # counted day by day
    assert len([b for b in submits(emulator, EVENTS) if b["event_name"] == "Charged"]) == (
        CHECKED_DAYS
    )


@pytest.mark.parametrize(
    ("switch", "injected", "words"),
    [
        ({"trends_off": True}, None, "HTTP 404"),
        ({}, ("rejected_400", "trends_submit"), "HTTP 400 '[unknown event property]'"),
        ({}, ("count_string", "trends_submit"), "no 'daily' series"),
        ({}, ("auth_401", "trends"), "HTTP 401"),
    ],
)
def test_a_trends_refusal_or_an_odd_answer_falls_back_with_one_warning(
    make_emulator: Callable[..., Emulator],
    caplog: pytest.LogCaptureFixture,
    switch: dict[str, Any],
    injected: tuple[str, str] | None,
    words: str,
) -> None:
    emulator = make_emulator(partial_share=0.0, **switch)
    times = 1
    if injected is not None:
        emulator.inject(injected[0], times=times, on=injected[1])
    _, warnings = run_falling_back(emulator, caplog)
    expected = 2 * len(ELIGIBLE) if switch else times
    assert len(warnings) == expected, warnings
    assert all(words in line for line in warnings), warnings


def test_faults_mid_series_are_retried_like_any_count(
    make_emulator: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.02)
    emulator.inject("invalid_req_id_400", on="trends_poll")  # the job is gone: ask again
    emulator.inject("server_500", times=2, on="trends_poll")
    emulator.inject("busy_429", on="trends_submit")
    run, warnings = run_falling_back(emulator, caplog)
    assert warnings == []
    assert len(submits(emulator, TRENDS)) == 2 * len(ELIGIBLE) + 1  # one resubmitted
    assert len(run.records) == len(expected_periods({}, 0))
