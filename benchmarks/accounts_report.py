"""The many-accounts rows of BENCHMARKS.md (benchmarks/accounts.py runs them)."""

from __future__ import annotations

from benchmarks.accounts import (
    ACCOUNT_LIMIT,
    DAYS,
    JOB_SECONDS,
    POLL_INTERVAL,
    QUERIES,
    AccountsOutcome,
)
from benchmarks.speed import Check


def section(outcomes: dict[int, AccountsOutcome], found: list[Check]) -> list[str]:
    """The BENCHMARKS.md section of these rows, with their targets."""
    return [
        "## Many accounts at once (issue 17)",
        "",
        *table(outcomes),
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
        *(f"| {c.target} | {c.measured} | {'yes' if c.ok else '**MISSED**'} |" for c in found),
        "",
    ]


def table(outcomes: dict[int, AccountsOutcome]) -> list[str]:
    one = outcomes[1]
    lines = [
        f"Each account: its own `clevertap-counts-emulator` (limit {ACCOUNT_LIMIT}, every query "
        f"`partial`, {JOB_SECONDS:g} s per job) and its own `tap-clevertap-counts` process "
        f"({QUERIES} queries x {DAYS} days, `poll_interval_seconds` {POLL_INTERVAL:g}), all "
        "taps started together. Overall (the target): every job over the first request to the "
        "last count of any account, the taps' start-up spread included; all-active: jobs "
        "counted while every account ran, per second of that window. Ideal: N x one account's "
        "rate. Peak RSS: each tap process's own `VmHWM`, the largest of the N.",
        "",
        "| accounts | jobs | overall jobs/s | of ideal | all-active jobs/s | of ideal "
        "| peak RSS per tap (max) | 429s | load before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, o in outcomes.items():
        lines.append(
            f"| {n} | {o.jobs} | {o.overall_rate:.2f} | "
            f"{100 * o.overall_rate / (n * one.overall_rate):.1f} % | {o.all_active_rate:.2f} | "
            f"{100 * o.all_active_rate / (n * one.all_active_rate):.1f} % | "
            f"{o.peak_rss_mib:.1f} MiB | {sum(a.throttled for a in o.accounts)} | "
            f"{o.load_before} |"
        )
    return lines
