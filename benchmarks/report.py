"""BENCHMARKS.md: the machine, the command, the table, and each target met or missed."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import subprocess
from importlib import metadata

from benchmarks import speed
from benchmarks.scenarios import Outcome
from benchmarks.speed import Check
from benchmarks.suite import (
    ACCOUNT_LIMIT,
    JOB_SECONDS,
    OUTPUT_DAYS,
    POLL_INTERVAL,
    SLOW_IN_FLIGHT,
    SLOW_JOB_SECONDS,
    SLOW_POLL_INTERVAL,
    SLOW_QUERIES,
    Results,
    bound,
    slots,
)

COMMAND = "make bench  # = .venv/bin/python benchmarks/run.py"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs (nproc), {cpu_model()}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; singer-sdk "
        f"{metadata.version('singer-sdk')}"
    )


def revision() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tap_clevertap_counts"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip() + (" (tap code modified)" if dirty.stdout.strip() else "")


def tap_code() -> str:
    """What identifies the tap's code: its tree at HEAD and any uncommitted change to it."""
    try:
        tree = subprocess.run(
            ["git", "rev-parse", "HEAD:tap_clevertap_counts"],
            capture_output=True,
            text=True,
            check=True,
        )
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--", "tap_clevertap_counts"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return tree.stdout.strip() + " " + hashlib.sha1(diff.stdout.encode()).hexdigest()


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _backfill_row(label: str, outcome: Outcome, one: Outcome) -> str:
    api, tap = outcome.api, outcome.tap
    limit = bound(outcome)
    return _row(
        [
            label,
            str(api.jobs_answered),
            f"{tap.wall_seconds:.2f}",
            f"{api.api_seconds:.2f}",
            f"{limit:.2f}",
            f"{100 * limit / api.api_seconds:.1f} %",
            f"{100 * limit / tap.wall_seconds:.1f} %",
            f"{api.mean_job_seconds:.3f}",
            f"{100 * api.occupancy(slots(outcome)):.1f} %",
            f"{one.tap.wall_seconds / tap.wall_seconds:.2f}x"
            if api.jobs_answered == one.api.jobs_answered
            else "-",
            f"{api.requests_per_job:.2f} ({api.max_requests_per_job})",
            f"{api.throttled} ({100 * api.throttled_share:.2f} %)",
            str(api.peak_inflight),
            f"{tap.peak_rss_mib:.1f}",
            _load_of(outcome),
        ]
    )


def _load_of(outcome: Outcome) -> str:
    return "-" if outcome.load_before is None else f"{outcome.load_before:.2f}"


def backfill_table(results: Results) -> list[str]:
    one = results.backfills[1]
    lines = [
        _row(
            [
                "max_concurrent_queries",
                "jobs",
                "wall (process) s",
                "API time s",
                "bound s",
                "bound / API time",
                "bound / wall",
                "job time at the API s (mean)",
                "slots held (of API time)",
                "speedup over 1 (wall)",
                "requests / job (worst job)",
                "429s (% of requests)",
                "peak in flight at the API",
                "peak RSS of the tap MiB",
                "load (1 min) at start",
            ]
        ),
        _row(["---:"] * 15),
    ]
    for concurrency, outcome in results.backfills.items():
        lines.append(_backfill_row(str(concurrency), outcome, one))
    assert results.long_backfill is not None
    lines.append(
        _backfill_row(
            f"{results.long_backfill.scenario.max_concurrent}, {results.long_factor}x longer",
            results.long_backfill,
            one,
        )
    )
    both = results.both_streams
    assert both is not None
    lines.append(
        _backfill_row(
            f"{both.scenario.max_concurrent}, {' + '.join(both.scenario.streams)} "
            f"({len(both.scenario.queries)} queries x {both.scenario.days} days x "
            f"{len(both.scenario.streams)})",
            both,
            one,
        )
    )
    return lines


def other_table(results: Results) -> list[str]:
    lines = [
        _row(
            [
                "run",
                "jobs",
                "wall (process) s",
                "API time s",
                "API requests",
                "jobs / s (wall)",
                "CPU (tap) s",
                "peak RSS of the tap MiB",
            ]
        ),
        _row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ]
    rows = [
        (f"no new days (from the x{ACCOUNT_LIMIT} backfill's final STATE)", results.no_new_days),
        ("instant answers (`success` at once, partial share 0)", results.instant),
        (f"instant answers, {results.long_factor}x longer backfill", results.instant_long),
    ]
    for label, outcome in rows:
        assert outcome is not None
        jobs = outcome.tap.records
        wall = outcome.tap.wall_seconds
        lines.append(
            _row(
                [
                    label,
                    str(jobs),
                    f"{wall:.2f}",
                    f"{outcome.api.api_seconds:.2f}",
                    str(outcome.api.requests),
                    f"{jobs / wall:.0f}" if jobs else "-",
                    f"{outcome.tap.cpu_seconds:.2f}",
                    f"{outcome.tap.peak_rss_mib:.1f}",
                ]
            )
        )
    return lines


def output_table(results: Results, rows: dict[int, Outcome] | None = None) -> list[str]:
    """One row per number of queries: `results.output` (instant answers) unless `rows`."""
    lines = [
        _row(
            [
                "queries",
                "records",
                "stdout bytes",
                "stdout bytes / record",
                "STATE messages",
                "STATE bytes / record",
                "largest STATE bytes",
                "wall (process) s",
                "CPU (tap) s",
                "CPU ms / record",
                "load (1 min) at start",
            ]
        ),
        _row(["---:"] * 11),
    ]
    for count, outcome in (results.output if rows is None else rows).items():
        out, tap = outcome.tap.output, outcome.tap
        lines.append(
            _row(
                [
                    str(count),
                    str(out.records),
                    str(out.total_bytes),
                    f"{out.total_bytes / out.records:.1f}",
                    str(out.state_messages),
                    f"{out.state_bytes / out.records:.1f}",
                    str(out.largest_state_bytes),
                    f"{tap.wall_seconds:.2f}",
                    f"{tap.cpu_seconds:.2f}",
                    f"{1000 * tap.cpu_seconds / out.records:.2f}",
                    _load_of(outcome),
                ]
            )
        )
    return lines


def trends_table(results: Results) -> list[str]:
    if results.trends is None:
        return ["(not run)"]
    lines = [
        _row(["backfill_with_trends", "wall", "API time", "bound", "jobs", "requests"]),
        _row(["---", "---:", "---:", "---:", "---:", "---:"]),
    ]
    for outcome in results.trends:
        api = outcome.api
        lines.append(
            _row(
                [
                    "on" if outcome.scenario.with_trends else "off",
                    f"{outcome.tap.wall_seconds:.2f} s",
                    f"{api.api_seconds:.2f} s",
                    f"{speed.trends_bound(outcome):.2f} s",
                    str(api.jobs_answered),
                    str(api.requests),
                ]
            )
        )
    return lines


def load() -> str:
    """The 1-minute load average: other work on the machine shows in the figures."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def render(
    results: Results,
    checks: list[Check],
    *,
    load_before: str,
    revision_before: str,
    tap_code_before: str | None = None,
) -> str:
    revision_after = revision()
    if revision_after == revision_before:
        revisions = revision_before
    elif tap_code_before is not None and tap_code_before == tap_code() != "unknown":
        revisions = (
            f"{revision_before} at the start, {revision_after} at the end (commits outside "
            "tap_clevertap_counts/ only: the tap's code was the same throughout)"
        )
    else:
        revisions = (
            f"{revision_before} at the start, {revision_after} at the end (the tap is installed "
            "editable: its code changed while the runs went on)"
        )
    at_limit = results.backfills[ACCOUNT_LIMIT]
    jobs = at_limit.scenario.jobs
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand, run it again.",
        "",
        f"- Command: `{COMMAND}`",
        f"- Machine: {machine()}",
        f"- Measured: {datetime.date.today().isoformat()}, revision {revisions}; load "
        f"average (1 min) {load_before} before the runs, {load()} after",
        f"- Workload: {jobs} jobs = {jobs // results.days} queries x {results.days} days; "
        f"the installed `tap-clevertap-counts` as its own process against "
        f"`clevertap-counts-emulator` (its own process) with every query answered `partial`, "
        f"{JOB_SECONDS:g} s per job, account limit {ACCOUNT_LIMIT}, "
        f"`poll_interval_seconds` {POLL_INTERVAL:g}.",
        "- Wall: the tap process from start to exit (interpreter start-up included). API time: "
        "the emulator's request log, first request's arrival to last one's. Bound: "
        f"ceil(jobs / min(asked, {ACCOUNT_LIMIT})) x job time rounded up to whole poll "
        "intervals, the least any polling client can take. Requests per job (mean, and the "
        "worst single job), 429s and the peak of slots held (as logged on each arrival, refused "
        "arrivals included) are counted in the emulator's log. Peak RSS: the tap process's own "
        "`VmHWM` (/proc, sampled while it runs; `wait4`'s `ru_maxrss` starts a child at its "
        "parent's peak). Job time at the API: a job's accepted submit's arrival to "
        "the arrival of the poll that got its count (the emulator's job time, plus what "
        "its answers and the tap's next poll took); slots held: those job times summed over "
        "min(asked, 3) x API time. A run can miss the bound because its slots stood idle (the "
        "tap's doing: slots held falls) or because every job took longer than "
        f"{JOB_SECONDS:g} s at the API (a loaded machine slows the emulator's answers and the "
        "tap's polls alike: job time rises, slots held does not fall).",
        f"- The {results.long_factor}x longer backfill is the same workload over "
        f"{results.long_factor}x the days; the instant runs answer every query `success` at "
        "once, so they measure the tap's own per-job cost. CPU: the tap process's user + "
        "system time from `wait4`.",
        "- Both streams: the same workload with `profile_counts` and `event_counts` selected "
        "by a catalog (the tap's own `--discover`, `selected` set in each stream's root "
        "metadata), twice the jobs; CleverTap's limit (and the emulator's) is per API, so the "
        "bound is each API's jobs in rounds of its own 3 slots, the two APIs side by side: the "
        "same as one stream's. A job is one (path, submit body): `/1/counts/profiles.json` and "
        "`/1/counts/events.json` are counted apart in the emulator's log.",
        f"- Trends (issue 18): a year ({speed.TRENDS_DAYS} days) of daily counts for "
        f"{len(speed.TRENDS_QUERIES)} unfiltered queries of distinct events, every job "
        f"`partial` for {speed.TRENDS_JOB_SECONDS:g} s, `poll_interval_seconds` "
        f"{speed.TRENDS_POLL:g}, with `backfill_with_trends` off and on. Off, the bound is "
        "ceil(3650 / 3) job times; on, each query is one Trends job and the check's 7 days on "
        "its own endpoint, the two APIs side by side. Jobs and requests are counted in the "
        "emulator's log.",
        f"- Output: instant answers, {OUTPUT_DAYS} days for each of "
        f"{' and '.join(str(n) for n in results.output)} distinct queries of one size "
        "(`q0000`..., one numeric filter each); bytes are stdout's as written, newlines "
        "included. The tap writes STATE every max(10, partitions in the state) records or 2 "
        "minutes, and at the end, so a STATE's size grows with the queries but their number per "
        "record shrinks as much: STATE bytes per record should not grow with the queries.",
        f"- Slow output: the same with every query answered `partial` after "
        f"{SLOW_JOB_SECONDS:g} s (`poll_interval_seconds` {SLOW_POLL_INTERVAL:g}, "
        f"{SLOW_IN_FLIGHT} in flight), one day for each of "
        f"{' and '.join(str(n) for n in SLOW_QUERIES)} queries: records trickle in, as from "
        "CleverTap, and a STATE timer of seconds would write the whole state at each trickle.",
        "",
        "## Backfill against the concurrency limit",
        "",
        *backfill_table(results),
        "",
        "## Incremental run, per-job overhead, memory",
        "",
        *other_table(results),
        "",
        "## Output linear in the work (issue 9)",
        "",
        *output_table(results),
        "",
        f"With slow answers ({SLOW_JOB_SECONDS:g} s per job, issue 15):",
        "",
        *output_table(results, results.slow_output),
        "",
        "## Speed: backfill_with_trends (issue 18)",
        "",
        *trends_table(results),
        "",
        "## Targets (issues 5, 9, 11, 15, 18)",
        "",
        _row(["target", "measured", "met"]),
        _row(["---", "---", "---"]),
        *(_row([c.target, c.measured, "yes" if c.ok else "**MISSED**"]) for c in checks),
        "",
    ]
    return "\n".join(lines)
