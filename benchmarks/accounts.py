"""N accounts at once (issue 17): one emulator per account, each with its own limit of 3, and
one tap process per account, all started together.

Accounts share nothing (not a limit, not a process, not state), so N of them should do N times
the work of one in the same time, until the machine runs out. Jobs take seconds here
(`JOB_SECONDS`, polled every `POLL_INTERVAL`), as CleverTap's do, so the taps mostly wait, as
they would in production; the 2 cores are not what is measured.

Throughput is counted in the emulators' request logs: a job is done when an answer carries its
count. Two figures per N:
- overall: every job over the whole span, the first request of any account to the last count of
  any, so it pays for the taps' start-up spread too (N interpreters importing the SDK on 2
  cores). This is the total throughput the target holds: >= 90 % of N x one account's at N = 16.
- all-active: the jobs done while every account was running (from the latest first request to
  the earliest last count), per second of that window: the steady state of N at once. Jobs end
  in bursts of 3 per account, so a window's edges make it noisier (a few %) than the overall.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from typing_extensions import override

from benchmarks.processes import TAP, EmulatorProcess, EmulatorSettings, reap
from benchmarks.rss import HighWater
from benchmarks.speed import Check

ACCOUNTS = (1, 4, 16)
JOB_SECONDS = 1.5  # a partial job; CleverTap's take a poll (30 s) or more
POLL_INTERVAL = 1.0  # two polls per job: the job holds its slot for about 2 s
ACCOUNT_LIMIT = 3
QUERIES = 3
DAYS = 15  # 45 jobs per account: about 30 s at 3 slots of ~2 s
THROUGHPUT_SHARE = 0.90
RSS_GROWTH = 1.1  # "flat": a tap among 16 at most 10 % above the lone tap
PASSCODE = "bench-passcode-Qy3v"
END = datetime.date(2024, 12, 31)


@dataclasses.dataclass(frozen=True)
class AccountSettings(EmulatorSettings):
    """One emulated account: its own id (so its own data), the demo's otherwise."""

    account_id: str = "DEMO-000-0001"

    @override
    def args(self) -> list[str]:
        return [*super().args(), "--account-id", self.account_id, "--passcode", PASSCODE]


@dataclasses.dataclass(frozen=True)
class Account:
    """One account's run: its tap process and what its emulator logged."""

    account_id: str
    returncode: int
    peak_rss_mib: float
    wall_seconds: float
    jobs: int
    requests: int
    throttled: int
    first: float  # arrival of its first request (epoch seconds)
    last: float  # arrival of the request that got its last count
    done_at: tuple[float, ...]  # arrival of each request that got a count

    @property
    def rate(self) -> float:
        """Jobs per second over its own span."""
        return self.jobs / (self.last - self.first) if self.last > self.first else 0.0


@dataclasses.dataclass(frozen=True)
class AccountsOutcome:
    n: int
    accounts: tuple[Account, ...]
    load_before: str

    @property
    def jobs(self) -> int:
        return sum(a.jobs for a in self.accounts)

    @property
    def window(self) -> tuple[float, float]:
        """When every account was running: the latest first request to the earliest last."""
        return max(a.first for a in self.accounts), min(a.last for a in self.accounts)

    @property
    def all_active_rate(self) -> float:
        start, end = self.window
        if end <= start:
            return 0.0
        done = sum(1 for a in self.accounts for t in a.done_at if start < t <= end)
        return done / (end - start)

    @property
    def overall_rate(self) -> float:
        start = min(a.first for a in self.accounts)
        end = max(a.last for a in self.accounts)
        return self.jobs / (end - start) if end > start else 0.0

    @property
    def peak_rss_mib(self) -> float:
        return max(a.peak_rss_mib for a in self.accounts)


def account_id(index: int) -> str:
    return f"BENCH-{index:03d}-0001"


def tap_config(url: str, account: str) -> dict[str, Any]:
    start = END - datetime.timedelta(days=DAYS - 1)
    return {
        "account_id": account,
        "passcode": PASSCODE,
        "api_url": url,
        "start_date": start.isoformat(),
        "end_date": END.isoformat(),
        "poll_interval_seconds": POLL_INTERVAL,
        "max_concurrent_queries": ACCOUNT_LIMIT,
        "queries": [
            {"name": f"q{i}", "event_name": "App Launched", "event_properties": [_filter(i)]}
            for i in range(QUERIES)
        ],
    }


def _filter(i: int) -> dict[str, Any]:
    return {"name": "session_length", "operator": "greater_than", "value": 100 * (i + 1)}


def _done_at(entries: list[dict[str, Any]]) -> list[float]:
    """Arrival of each request whose answer carried a count."""
    return [
        float(e["t"])
        for e in entries
        if isinstance(e.get("answer"), dict) and e["answer"].get("status") == "success"
    ]


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def run_accounts(n: int, workdir: pathlib.Path) -> AccountsOutcome:
    """Start n emulators (one per account), then n taps at once; wait for all."""
    load_before = _load()
    settings = [
        AccountSettings(
            partial_share=1.0,
            job_seconds=JOB_SECONDS,
            concurrency_limit=ACCOUNT_LIMIT,
            account_id=account_id(i),
        )
        for i in range(n)
    ]
    dirs = [workdir / f"accounts-{n}" / f"account-{i}" for i in range(n)]
    for path in dirs:
        path.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        emulators = [
            stack.enter_context(EmulatorProcess(s, d)) for s, d in zip(settings, dirs, strict=True)
        ]
        taps = []
        for emulator, s, path in zip(emulators, settings, dirs, strict=True):
            config = path / "config.json"
            config.write_text(json.dumps(tap_config(emulator.url, s.account_id)), encoding="utf-8")
            out = (path / "tap-stdout.jsonl").open("w", encoding="utf-8")
            err = (path / "tap-stderr.log").open("w", encoding="utf-8")
            stack.callback(out.close)
            stack.callback(err.close)
            started = time.monotonic()
            process = subprocess.Popen([str(TAP), "--config", str(config)], stdout=out, stderr=err)
            taps.append((process, HighWater(process.pid), started))
        reaped = [_reap(process, high, started) for process, high, started in taps]
        accounts = []
        for emulator, s, (code, rss, wall) in zip(emulators, settings, reaped, strict=True):
            entries = emulator.requests()
            done = _done_at(entries)
            times = [float(e["t"]) for e in entries]
            accounts.append(
                Account(
                    account_id=s.account_id,
                    returncode=code,
                    peak_rss_mib=rss,
                    wall_seconds=wall,
                    jobs=len(done),
                    requests=len(entries),
                    throttled=sum(1 for e in entries if e["status"] == 429),
                    first=min(times, default=0.0),
                    last=max(done, default=0.0),
                    done_at=tuple(done),
                )
            )
    return AccountsOutcome(n, tuple(accounts), load_before)


def _reap(
    process: subprocess.Popen[Any], high_water: HighWater, started: float, timeout: float = 600
) -> tuple[int, float, float]:
    """(exit code, peak RSS in MiB, wall seconds) of one tap (its peak: `rss.HighWater`)."""
    returncode, _ = reap(process, timeout)
    return returncode, high_water.mib(), time.monotonic() - started


def run_all(workdir: pathlib.Path, say: Callable[[str], None]) -> dict[int, AccountsOutcome]:
    outcomes: dict[int, AccountsOutcome] = {}
    for n in ACCOUNTS:
        say(f"accounts x{n}: {n} emulators and {n} taps, {QUERIES * DAYS} jobs each")
        outcome = run_accounts(n, workdir)
        say(
            f"  overall {outcome.overall_rate:.2f} jobs/s, all-active "
            f"{outcome.all_active_rate:.2f} jobs/s, {outcome.jobs} jobs, peak RSS per tap "
            f"{outcome.peak_rss_mib:.1f} MiB, exit codes "
            f"{sorted({a.returncode for a in outcome.accounts})}, load (1 min) at start "
            f"{outcome.load_before}"
        )
        outcomes[n] = outcome
    return outcomes


def checks(outcomes: dict[int, AccountsOutcome]) -> list[Check]:
    one = outcomes[1]
    most = outcomes[max(outcomes)]
    n = most.n
    share = most.all_active_rate / (n * one.all_active_rate)
    overall = most.overall_rate / (n * one.overall_rate)
    expected_jobs = QUERIES * DAYS
    complete = all(
        a.returncode == 0 and a.jobs == expected_jobs for o in outcomes.values() for a in o.accounts
    )
    growth = most.peak_rss_mib / one.peak_rss_mib
    return [
        Check(
            "every tap exits 0 with every job counted, at every N",
            f"{sum(o.jobs for o in outcomes.values())} jobs, {expected_jobs} per account expected",
            complete,
        ),
        Check(
            f"{n} accounts at once: total throughput >= {100 * THROUGHPUT_SHARE:.0f} % of {n} x "
            "one account's",
            f"{most.overall_rate:.2f} jobs/s vs {n} x {one.overall_rate:.2f} = "
            f"{100 * overall:.1f} % (all-active window: {100 * share:.1f} %)",
            overall >= THROUGHPUT_SHARE,
        ),
        Check(
            f"peak RSS per tap process flat (x{n} at most {RSS_GROWTH:g}x x1)",
            ", ".join(f"x{o.n} {o.peak_rss_mib:.1f} MiB" for o in outcomes.values())
            + f" ({growth:.2f}x)",
            growth <= RSS_GROWTH,
        ),
    ]
