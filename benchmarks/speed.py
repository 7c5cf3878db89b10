"""Issue 18's rows: a two-stream backfill against the per-API bound, and a year of daily counts
for 10 unfiltered queries with `backfill_with_trends` off and on.

Runnable on their own (`benchmarks/run.py --only both-streams`, `--only trends`): they print
their figures and checks and leave BENCHMARKS.md alone, which only a full `make bench` writes.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import scenarios
from benchmarks.measure import lower_bound
from benchmarks.processes import EmulatorSettings
from benchmarks.scenarios import Outcome, Scenario
from tap_clevertap_counts.running.trends import CHECKS

TRENDS_DAYS = 365
TRENDS_JOB_SECONDS = 0.05  # small, so that the run without Trends (3,650 jobs) takes minutes
TRENDS_POLL = 0.05
TRENDS_LIMIT = 3
TRENDS_SPEEDUP = 10.0  # target: at least this much faster with Trends
# Ten distinct unfiltered questions: the emulator's four events and six it has never seen
# (counted as 0 on every day, at the same cost per job). Ten queries of one event would be one
# question, asked once (issue 18's dedup), and measure nothing.
TRENDS_EVENTS = (
    "App Launched",
    "Charged",
    "Product Viewed",
    "choseNewFavoriteFood",
    *(f"Bench Event {n}" for n in range(5, 11)),
)
TRENDS_QUERIES: tuple[dict[str, Any], ...] = tuple(
    {"name": f"t{index:02d}", "event_name": event} for index, event in enumerate(TRENDS_EVENTS)
)
TRENDS_ACCOUNT = EmulatorSettings(
    partial_share=1.0, job_seconds=TRENDS_JOB_SECONDS, concurrency_limit=TRENDS_LIMIT
)


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    ok: bool


def trends_scenario(on: bool) -> Scenario:
    return Scenario(
        f"trends {'on' if on else 'off'}",
        TRENDS_DAYS,
        TRENDS_LIMIT,
        TRENDS_ACCOUNT,
        poll_interval=TRENDS_POLL,
        queries=TRENDS_QUERIES,
        with_trends=on,
    )


def run_trends(workdir: pathlib.Path, say: Callable[[str], None]) -> tuple[Outcome, Outcome]:
    outcomes = []
    for on in (False, True):
        scenario = trends_scenario(on)
        say(f"{scenario.label}: {scenario.jobs} records, {len(scenario.queries)} queries")
        outcome = scenarios.run(scenario, workdir)
        say(f"  {describe(outcome)}")
        outcomes.append(outcome)
    return outcomes[0], outcomes[1]


def describe(outcome: Outcome) -> str:
    api = outcome.api
    by_path = ", ".join(f"{path} {jobs}" for path, jobs in sorted(api.jobs_by_endpoint.items()))
    return (
        f"wall {outcome.tap.wall_seconds:.2f} s, API {api.api_seconds:.2f} s, "
        f"{api.jobs_answered} jobs ({by_path}), {api.requests} requests, "
        f"{api.throttled} 429s, peak RSS {outcome.tap.peak_rss_mib:.1f} MiB"
    )


def trends_bound(outcome: Outcome) -> float:
    """Each API's jobs in rounds of its own slots, the APIs side by side."""
    per_api = outcome.api.jobs_by_endpoint.values()
    return max(lower_bound(jobs, TRENDS_LIMIT, TRENDS_JOB_SECONDS, TRENDS_POLL) for jobs in per_api)


def trends_checks(off: Outcome, on: Outcome) -> list[Check]:
    speedup = off.tap.wall_seconds / on.tap.wall_seconds
    queries = len(on.scenario.queries)
    trends = on.api.jobs_by_endpoint.get("/1/counts/trends.json", 0)
    own = on.api.jobs_answered - trends
    return [
        Check(
            f"a year of daily counts, {queries} unfiltered queries: backfill_with_trends on is "
            f">= {TRENDS_SPEEDUP:g}x faster",
            f"off: {describe(off)} (bound {trends_bound(off):.2f} s); on: {describe(on)} "
            f"(bound {trends_bound(on):.2f} s); speed-up {speedup:.1f}x (wall), "
            f"{off.api.jobs_answered / on.api.jobs_answered:.0f}x fewer jobs, "
            f"{off.api.requests / on.api.requests:.0f}x fewer requests",
            speedup >= TRENDS_SPEEDUP,
        ),
        Check(
            f"trends on: one series and the check's {CHECKS} days per query, nothing else",
            f"{trends} Trends jobs, {own} jobs on the queries' own endpoint",
            trends == queries and own == CHECKS * queries and on.tap.records == off.tap.records,
        ),
    ]
