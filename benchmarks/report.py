"""BENCHMARKS.md: the machine, the command, the table, and each target met or missed."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata

from benchmarks.scenarios import Outcome
from benchmarks.suite import (
    ACCOUNT_LIMIT,
    JOB_SECONDS,
    POLL_INTERVAL,
    Check,
    Results,
    bound,
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
            f"{one.tap.wall_seconds / tap.wall_seconds:.2f}x"
            if api.jobs_answered == one.api.jobs_answered
            else "-",
            f"{api.requests_per_job:.2f} ({api.max_requests_per_job})",
            f"{api.throttled} ({100 * api.throttled_share:.2f} %)",
            str(api.peak_inflight),
            f"{tap.peak_rss_mib:.1f}",
        ]
    )


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
                "speedup over 1 (wall)",
                "requests / job (worst job)",
                "429s (% of requests)",
                "peak in flight at the API",
                "peak RSS of the tap MiB",
            ]
        ),
        _row(["---:"] * 12),
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
                "peak RSS of the tap MiB",
            ]
        ),
        _row(["---", "---:", "---:", "---:", "---:", "---:", "---:"]),
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
                    f"{outcome.tap.peak_rss_mib:.1f}",
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


def render(results: Results, checks: list[Check], *, load_before: str, revision_before: str) -> str:
    revision_after = revision()
    revisions = (
        revision_before
        if revision_after == revision_before
        else f"{revision_before} at the start, {revision_after} at the end (the tap is installed "
        "editable: code changed while the runs went on)"
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
        "`ru_maxrss` from `wait4`.",
        f"- The {results.long_factor}x longer backfill is the same workload over "
        f"{results.long_factor}x the days; the instant runs answer every query `success` at "
        "once, so they measure the tap's own per-job cost.",
        "",
        "## Backfill against the concurrency limit",
        "",
        *backfill_table(results),
        "",
        "## Incremental run, per-job overhead, memory",
        "",
        *other_table(results),
        "",
        "## Targets (issue 5)",
        "",
        _row(["target", "measured", "met"]),
        _row(["---", "---", "---"]),
        *(_row([c.target, c.measured, "yes" if c.ok else "**MISSED**"]) for c in checks),
        "",
    ]
    return "\n".join(lines)
