"""The benchmark suite: which runs, in which order, and the targets they are held to."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import scenarios, speed
from benchmarks.measure import lower_bound, max_requests_per_job
from benchmarks.processes import EmulatorSettings
from benchmarks.scenarios import EVENT_COUNTS, PROFILE_COUNTS, Outcome, Scenario, many_queries
from benchmarks.speed import Check

JOB_SECONDS = 0.5
POLL_INTERVAL = 0.05
ACCOUNT_LIMIT = 3
CONCURRENCY = (1, ACCOUNT_LIMIT, 2 * ACCOUNT_LIMIT)
INSTANT_SECONDS = 10.0  # "in seconds"
RSS_GROWTH = 1.1  # "flat": a 10x longer backfill may use at most 10 % more memory
BOUND_SHARE = 0.95  # a run at the account limit takes at most 1 / 0.95 of the bound
OUTPUT_QUERIES = (60, 240)  # issue 9: stdout must stay linear in the work as queries grow
OUTPUT_DAYS = 5
OUTPUT_GROWTH = 1.6  # "flat": bytes per record at 4x the queries at most 1.6x
BOTH_STREAMS = (PROFILE_COUNTS, EVENT_COUNTS)  # issue 11
# Issue 15: STATE bytes per record flat in the queries with slow answers too (seconds per job,
# records trickling in), one day per query so that the pair takes about two minutes.
SLOW_QUERIES = (30, 240)
SLOW_JOB_SECONDS = 2.0
SLOW_IN_FLIGHT = 6
SLOW_POLL_INTERVAL = 0.5

PARTIAL = EmulatorSettings(
    partial_share=1.0, job_seconds=JOB_SECONDS, concurrency_limit=ACCOUNT_LIMIT
)
INSTANT = EmulatorSettings(partial_share=0.0, job_seconds=0.0, concurrency_limit=ACCOUNT_LIMIT)
SLOW = EmulatorSettings(
    partial_share=1.0, job_seconds=SLOW_JOB_SECONDS, concurrency_limit=SLOW_IN_FLIGHT
)


def slots(outcome: Outcome) -> int:
    """The account's slots this run can use: what it asks for, up to the limit."""
    return min(outcome.scenario.max_concurrent, ACCOUNT_LIMIT)


def bound(outcome: Outcome) -> float:
    """The least time any polling client needs for this run's jobs at its concurrency: each
    API's jobs in rounds of its own slots (CleverTap's limit is per API), the APIs side by
    side."""
    per_api = outcome.api.jobs_by_endpoint.values() or [outcome.api.jobs_answered]
    return max(lower_bound(jobs, slots(outcome), JOB_SECONDS, POLL_INTERVAL) for jobs in per_api)


@dataclass
class Results:
    """Every run's outcome, by role; filled in as the suite goes."""

    days: int
    long_factor: int
    backfills: dict[int, Outcome] = field(default_factory=dict)  # by max_concurrent_queries
    long_backfill: Outcome | None = None
    no_new_days: Outcome | None = None
    instant: Outcome | None = None
    instant_long: Outcome | None = None
    output: dict[int, Outcome] = field(default_factory=dict)  # instant, by number of queries
    both_streams: Outcome | None = None
    slow_output: dict[int, Outcome] = field(default_factory=dict)  # slow, by number of queries
    trends: tuple[Outcome, Outcome] | None = None  # backfill_with_trends off, on


def _run(
    scenario: Scenario,
    workdir: pathlib.Path,
    say: Callable[[str], None],
    state: dict[str, object] | None = None,
) -> Outcome:
    say(
        f"{scenario.label}: {scenario.jobs if state is None else 0} jobs expected, "
        f"max_concurrent_queries {scenario.max_concurrent}"
    )
    outcome = scenarios.run(scenario, workdir, state)
    output = outcome.tap.output
    say(
        f"  wall {outcome.tap.wall_seconds:.2f} s, CPU {outcome.tap.cpu_seconds:.2f} s, "
        f"API {outcome.api.api_seconds:.2f} s, {outcome.api.requests} requests, "
        f"429s {outcome.api.throttled}, peak RSS {outcome.tap.peak_rss_mib:.1f} MiB, "
        f"stdout {output.total_bytes} bytes, {output.state_messages} STATE messages, "
        f"load (1 min) at start {outcome.load_before}"
    )
    return outcome


def run_suite(
    workdir: pathlib.Path, days: int, long_factor: int, say: Callable[[str], None]
) -> Results:
    results = Results(days=days, long_factor=long_factor)
    for concurrency in CONCURRENCY:
        scenario = Scenario(f"backfill x{concurrency}", days, concurrency, PARTIAL)
        results.backfills[concurrency] = _run(scenario, workdir, say)
    at_limit = results.backfills[ACCOUNT_LIMIT]
    results.no_new_days = _run(
        Scenario("no new days", days, ACCOUNT_LIMIT, PARTIAL),
        workdir,
        say,
        state=at_limit.tap.last_state,
    )
    results.instant = _run(Scenario("instant", days, ACCOUNT_LIMIT, INSTANT), workdir, say)
    results.instant_long = _run(
        Scenario("instant long", days * long_factor, ACCOUNT_LIMIT, INSTANT), workdir, say
    )
    for count in OUTPUT_QUERIES:
        results.output[count] = _run(
            Scenario(
                f"output {count} queries",
                OUTPUT_DAYS,
                ACCOUNT_LIMIT,
                INSTANT,
                queries=many_queries(count),
            ),
            workdir,
            say,
        )
    results.both_streams = both_streams(days, workdir, say)
    results.trends = speed.run_trends(workdir, say)
    results.long_backfill = _run(
        Scenario("backfill long", days * long_factor, ACCOUNT_LIMIT, PARTIAL), workdir, say
    )
    run_slow_output(results, workdir, say)
    return results


def run_slow_output(results: Results, workdir: pathlib.Path, say: Callable[[str], None]) -> None:
    """The output rows with slow answers (`benchmarks/run.py --only slow-output` alone)."""
    for count in SLOW_QUERIES:
        results.slow_output[count] = _run(
            Scenario(
                f"slow output {count} queries",
                1,
                SLOW_IN_FLIGHT,
                SLOW,
                poll_interval=SLOW_POLL_INTERVAL,
                queries=many_queries(count),
            ),
            workdir,
            say,
        )


def checks(results: Results) -> list[Check]:
    """The issue's targets, each with what was measured and whether it was met."""
    assert results.no_new_days and results.instant and results.instant_long
    assert results.long_backfill and results.both_streams
    found: list[Check] = []
    at_limit = results.backfills[ACCOUNT_LIMIT]
    ratio = bound(at_limit) / at_limit.api.api_seconds
    wall_ratio = bound(at_limit) / at_limit.tap.wall_seconds
    found.append(
        Check(
            f">= 95 % of the bound at the account limit ({ACCOUNT_LIMIT})",
            f"{100 * ratio:.1f} % of API time, {100 * wall_ratio:.1f} % of process wall; "
            f"{_held(at_limit)}",
            min(ratio, wall_ratio) >= BOUND_SHARE,
        )
    )
    rows = [*results.backfills.values(), results.long_backfill]
    shares = [min(bound(o) / o.api.api_seconds, bound(o) / o.tap.wall_seconds) for o in rows]
    found.append(
        Check(
            ">= 95 % of the bound in every backfill row (the lower of API time and process wall)",
            ", ".join(
                f"x{o.scenario.max_concurrent}{' long' if o is results.long_backfill else ''} "
                f"{100 * share:.1f} %"
                for o, share in zip(rows, shares, strict=True)
            ),
            min(shares) >= BOUND_SHARE,
        )
    )
    over = results.backfills[2 * ACCOUNT_LIMIT]
    cost = over.tap.wall_seconds / at_limit.tap.wall_seconds
    found.append(
        Check(
            f"asking {over.scenario.max_concurrent} against a limit of {ACCOUNT_LIMIT} costs "
            f"<= 1.1x asking {ACCOUNT_LIMIT}",
            f"{cost:.3f}x (process wall)",
            cost <= 1.1,
        )
    )
    share = over.api.throttled_share
    found.append(
        Check(
            f"asking {over.scenario.max_concurrent}: 429s under 5 % of requests",
            f"{over.api.throttled} of {over.api.requests} ({100 * share:.2f} %), "
            f"{over.api.throttled_polls} of them on polls",
            share < 0.05,
        )
    )
    allowed = max_requests_per_job(JOB_SECONDS, POLL_INTERVAL)
    partial_runs = [*results.backfills.values(), results.long_backfill]
    worst = max(o.api.max_accepted_requests_per_job for o in partial_runs)
    means = ", ".join(
        f"x{o.scenario.max_concurrent}{' long' if o is results.long_backfill else ''} "
        f"{o.api.requests_per_job:.2f}"
        for o in partial_runs
    )
    found.append(
        Check(
            f"<= 1 + ceil(job time / poll interval) = {allowed} requests per job",
            f"worst job {worst} requests not counting 429-refused submits (those are the "
            f"429 row); mean per run, 429s included: {means}",
            worst <= allowed,
        )
    )
    calls = results.no_new_days.api.requests
    found.append(
        Check(
            "a run with no new days makes 0 API calls",
            f"{calls} calls, {results.no_new_days.tap.wall_seconds:.2f} s",
            calls == 0,
        )
    )
    long_wall = results.instant_long.tap.wall_seconds
    found.append(
        Check(
            f"{results.instant_long.api.jobs_answered} instant jobs finish in seconds "
            f"(< {INSTANT_SECONDS:g} s)",
            f"{long_wall:.2f} s",
            long_wall < INSTANT_SECONDS,
        )
    )
    for small, big, what in [
        (at_limit, results.long_backfill, "partial jobs"),
        (results.instant, results.instant_long, "instant jobs"),
    ]:
        before, after = small.tap.peak_rss_mib, big.tap.peak_rss_mib
        found.append(
            Check(
                f"peak RSS flat for a {results.long_factor}x longer backfill, {what} "
                f"(<= {RSS_GROWTH:g}x)",
                f"{small.api.jobs_answered} jobs {before:.1f} MiB, {big.api.jobs_answered} "
                f"jobs {after:.1f} MiB ({after / before:.2f}x)",
                after <= RSS_GROWTH * before,
            )
        )
    found.extend(_output_checks(results))
    found.extend(both_streams_checks(results.both_streams))
    found.extend(slow_output_checks(results))
    if results.trends:
        found.extend(speed.trends_checks(*results.trends))
    return found


def _held(outcome: Outcome) -> str:
    api = outcome.api
    return (
        f"slots held {100 * api.occupancy(slots(outcome) * max(1, len(api.jobs_by_endpoint))):.1f}"
        " % of API time, mean job time "
        f"at the API {api.mean_job_seconds:.3f} s (emulator's {JOB_SECONDS:g} s)"
    )


def _output_checks(results: Results) -> list[Check]:
    return _flat_output(results.output[OUTPUT_QUERIES[0]], results.output[OUTPUT_QUERIES[-1]], "")


def slow_output_checks(results: Results) -> list[Check]:
    few, many = (results.slow_output[count] for count in SLOW_QUERIES)
    return [
        check
        for check in _flat_output(few, many, f", {SLOW_JOB_SECONDS:g} s jobs")
        if check.target.startswith("STATE")
    ]


def _flat_output(few: Outcome, many: Outcome, answers: str) -> list[Check]:
    found = []
    for what, measure in [
        ("stdout bytes per record", lambda o: o.tap.output.total_bytes / o.tap.records),
        ("STATE bytes per record", lambda o: o.tap.output.state_bytes / o.tap.records),
    ]:
        before, after = measure(few), measure(many)
        found.append(
            Check(
                f"{what} flat from {len(few.scenario.queries)} to {len(many.scenario.queries)} "
                f"queries{answers} (<= {OUTPUT_GROWTH:g}x)",
                f"{before:.1f} -> {after:.1f} bytes ({after / before:.2f}x)",
                after <= OUTPUT_GROWTH * before,
            )
        )
    return found


def both_streams(days: int, workdir: pathlib.Path, say: Callable[[str], None]) -> Outcome:
    return _run(
        Scenario("both streams", days, ACCOUNT_LIMIT, PARTIAL, streams=BOTH_STREAMS), workdir, say
    )


def both_streams_checks(both: Outcome) -> list[Check]:
    api = both.api
    limit = bound(both)
    ratio, wall_ratio = limit / api.api_seconds, limit / both.tap.wall_seconds
    streams = " and ".join(both.scenario.streams)
    per_stream = both.scenario.jobs // len(both.scenario.streams)
    by_endpoint = ", ".join(f"{path} {jobs}" for path, jobs in sorted(api.jobs_by_endpoint.items()))
    return [
        Check(
            f">= 95 % of the per-API bound with {streams} selected ({both.scenario.jobs} jobs, "
            f"{ACCOUNT_LIMIT} slots for each API)",
            f"{100 * ratio:.1f} % of API time, {100 * wall_ratio:.1f} % of process wall "
            f"(bound {limit:.2f} s); {_held(both)}",
            min(ratio, wall_ratio) >= BOUND_SHARE,
        ),
        Check(
            "both streams: each (stream, query, period) submitted exactly once",
            f"{api.jobs_submitted} distinct jobs submitted of {both.scenario.jobs}, at most "
            f"{api.max_accepted_submits_per_job} accepted submit each; answered by path: "
            f"{by_endpoint}; {api.throttled} 429s",
            api.jobs_submitted == both.scenario.jobs
            and api.max_accepted_submits_per_job == 1
            and len(api.jobs_by_endpoint) == len(both.scenario.streams)
            and all(jobs == per_stream for jobs in api.jobs_by_endpoint.values()),
        ),
    ]
