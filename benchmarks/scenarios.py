"""The runs `make bench` makes: what each asks of the tap and of the emulated account."""

from __future__ import annotations

import datetime
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


@dataclass(frozen=True)
class Scenario:
    """One tap run: the account's behaviour, the backfill's size, the tap's settings."""

    label: str
    days: int
    max_concurrent: int
    emulator: EmulatorSettings
    poll_interval: float = 0.05
    from_state_of: str | None = None  # run again from the final STATE of that run

    @property
    def jobs(self) -> int:
        return self.days * len(QUERIES)

    def config(self, api_url: str) -> dict[str, Any]:
        start = END_DATE - datetime.timedelta(days=self.days - 1)
        return {
            "account_id": DEMO_ACCOUNT_ID,
            "passcode": DEMO_PASSCODE,
            "api_url": api_url,
            "start_date": start.isoformat(),
            "end_date": END_DATE.isoformat(),
            "queries": QUERIES,
            "poll_interval_seconds": self.poll_interval,
            "max_concurrent_queries": self.max_concurrent,
            "request_timeout_seconds": 10,
        }


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    tap: TapResult
    api: ApiView


def run(scenario: Scenario, workdir: pathlib.Path, state: dict[str, Any] | None = None) -> Outcome:
    """Start a fresh emulator, run the tap against it once, read both sides' figures."""
    rundir = workdir / scenario.label.replace(" ", "-")
    shutil.rmtree(rundir, ignore_errors=True)
    rundir.mkdir(parents=True)
    with EmulatorProcess(scenario.emulator, rundir) as emulator:
        tap = run_tap(scenario.config(emulator.url), rundir, state=state)
        entries = emulator.requests()
    if tap.returncode != 0:
        raise RuntimeError(
            f"{scenario.label}: the tap exited with {tap.returncode}:\n{tap.stderr_tail}"
        )
    expected = 0 if state is not None else scenario.jobs
    if tap.records != expected:
        raise RuntimeError(f"{scenario.label}: {tap.records} records, expected {expected}")
    return Outcome(scenario, tap, api_view(entries))
