"""The runs `make bench` makes: what each asks of the tap and of the emulated account."""

from __future__ import annotations

import datetime
import os
import pathlib
import shutil
from dataclasses import dataclass
from typing import Any

from benchmarks.measure import ApiView, api_view
from benchmarks.processes import EmulatorProcess, EmulatorSettings, TapResult, run_tap
from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE

END_DATE = datetime.date(2024, 12, 31)  # the emulator's today is fixed at the day after
QUERIES: list[dict[str, Any]] = [
    {
        "name": "pizza",
        "event_name": "choseNewFavoriteFood",
        "event_properties": [{"name": "value", "operator": "contains", "value": "piz"}],
    },
    {"name": "launches", "event_name": "App Launched"},
    {"name": "views", "event_name": "Product Viewed"},
    {"name": "charged", "event_name": "Charged"},
]
PROFILE_COUNTS, EVENT_COUNTS = "profile_counts", "event_counts"
_NUMBERS = [("App Launched", "session_length"), ("Product Viewed", "price"), ("Charged", "amount")]


def many_queries(count: int) -> tuple[dict[str, Any], ...]:
    """`count` distinct queries of one size: the same name length and filter shape each, so
    that a record's bytes do not grow with the number of queries, only the state's do."""
    queries = []
    for index in range(count):
        event, prop = _NUMBERS[index % len(_NUMBERS)]
        queries.append(
            {
                "name": f"q{index:04d}",
                "event_name": event,
                "event_properties": [
                    {"name": prop, "operator": "greater_than_equals", "value": 1000 + index}
                ],
            }
        )
    return tuple(queries)


@dataclass(frozen=True)
class Scenario:
    """One tap run: the account's behaviour, the backfill's size, the tap's settings."""

    label: str
    days: int
    max_concurrent: int
    emulator: EmulatorSettings
    poll_interval: float = 0.05
    queries: tuple[dict[str, Any], ...] = tuple(QUERIES)
    streams: tuple[str, ...] = (PROFILE_COUNTS,)  # other than this: selected by a catalog
    with_trends: bool = False  # `backfill_with_trends`

    @property
    def jobs(self) -> int:
        """(stream, query, period) triples: every query counts days."""
        return self.days * len(self.queries) * len(self.streams)

    def config(self, api_url: str) -> dict[str, Any]:
        start = END_DATE - datetime.timedelta(days=self.days - 1)
        return {
            "account_id": DEMO_ACCOUNT_ID,
            "passcode": DEMO_PASSCODE,
            "api_url": api_url,
            "start_date": start.isoformat(),
            "end_date": END_DATE.isoformat(),
            "queries": list(self.queries),
            "poll_interval_seconds": self.poll_interval,
            "max_concurrent_queries": self.max_concurrent,
            "request_timeout_seconds": 10,
            "backfill_with_trends": self.with_trends,
            # event_counts counts only when the setting opts in as well as the catalog
            "count_events": EVENT_COUNTS in self.streams,
        }


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    tap: TapResult
    api: ApiView
    load_before: float | None = None  # the machine's 1-minute load average as the run began


def run(scenario: Scenario, workdir: pathlib.Path, state: dict[str, Any] | None = None) -> Outcome:
    """Start a fresh emulator, run the tap against it once, read both sides' figures."""
    rundir = workdir / scenario.label.replace(" ", "-")
    shutil.rmtree(rundir, ignore_errors=True)
    rundir.mkdir(parents=True)
    try:
        load_before: float | None = os.getloadavg()[0]
    except OSError:
        load_before = None
    with EmulatorProcess(scenario.emulator, rundir) as emulator:
        select = None if scenario.streams == (PROFILE_COUNTS,) else scenario.streams
        tap = run_tap(scenario.config(emulator.url), rundir, state=state, select=select)
        entries = emulator.requests()
    if tap.returncode != 0:
        raise RuntimeError(
            f"{scenario.label}: the tap exited with {tap.returncode}:\n{tap.stderr_tail}"
        )
    expected = 0 if state is not None else scenario.jobs
    if tap.records != expected:
        raise RuntimeError(f"{scenario.label}: {tap.records} records, expected {expected}")
    per_stream = expected // len(scenario.streams)
    wrong = {
        name: tap.output.records_by_stream.get(name, 0)
        for name in scenario.streams
        if tap.output.records_by_stream.get(name, 0) != per_stream
    }
    if expected and wrong:
        raise RuntimeError(f"{scenario.label}: records by stream {wrong}, {per_stream} expected")
    return Outcome(scenario, tap, api_view(entries), load_before)
