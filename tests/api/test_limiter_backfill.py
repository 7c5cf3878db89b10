"""The client, limiter and runner together against the emulator's concurrency limit, judged by
the requests it counted. Jobs end on the test's clock, a round at a time (`run_backfill`).
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings, CountRequest
from tap_clevertap_counts.api.limiter import AdaptiveLimiter
from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, ManualClock
from tests.api.test_scheduler import OneLane
from tests.conftest import ROUND_SECONDS, in_rounds


def requests_for(days: int) -> list[CountRequest]:
    first = datetime.date(2024, 3, 1)
    return [
        CountRequest(
            "launches",
            "App Launched",
            (),
            first + datetime.timedelta(days=n),
            first + datetime.timedelta(days=n),
        )
        for n in range(days)
    ]


def run_backfill(
    emulator: Any, clock: ManualClock, asked: int, days: int
) -> tuple[AdaptiveLimiter, list[int]]:
    """Count `days` one-day jobs, `asked` at a time, through an account that allows 3.

    The emulator's jobs end only when the clock moves, and it moves only once the backfill is
    at rest: 3 jobs running, each held by one of the limiter's 3 holders, so no submit is on its
    way. Every round then holds the account's 3 slots at once, whatever the machine's speed.
    """
    stop = threading.Event()
    limiter = AdaptiveLimiter(asked)
    client = CleverTapClient(
        ClientSettings(
            base_url=emulator.url,
            account_id=DEMO_ACCOUNT_ID,
            passcode=DEMO_PASSCODE,
            request_timeout=5.0,
            poll_interval=0.02,
            poll_timeout=30.0,
        ),
        limiter=limiter,
        stop=stop,
    )
    jobs = requests_for(days)
    runner = OneLane(
        jobs,
        lambda job, index: client.count(job, priority=index),
        workers=asked,
        window=64,
        stop=stop,
    )
    try:
        counts = in_rounds(
            lambda: [count for _, count in runner],
            clock,
            lambda: emulator.running_jobs() == limiter.holders == 3,
        )
    finally:
        stop.set()
    truth = [
        emulator.store.count_profiles(job.event_name, [], job.from_date, job.to_date)
        for job in jobs
    ]
    assert counts == truth
    return limiter, counts


def test_at_the_account_limit_no_request_is_refused(make_emulator: Any, clock: ManualClock) -> None:
    emulator = make_emulator(
        partial_share=1.0, job_seconds=ROUND_SECONDS, concurrency_limit=3, clock=clock
    )
    limiter, _ = run_backfill(emulator, clock, asked=3, days=12)
    log = emulator.requests()
    assert emulator.inflight_peak() == 3, "all three slots used, never a fourth"
    assert max(entry["inflight"] for entry in log) == 3
    assert all(entry["status"] == 200 for entry in log)
    assert limiter.throttles == 0
    assert sum(1 for entry in log if entry["kind"] == "submit") == 12


def test_asking_more_than_the_account_allows_settles_at_its_limit(
    make_emulator: Any, clock: ManualClock
) -> None:
    """Asking 6 of an account that allows 3: a few 429s at the start, then none (no storm)."""
    emulator = make_emulator(
        partial_share=1.0, job_seconds=ROUND_SECONDS, concurrency_limit=3, clock=clock
    )
    limiter, _ = run_backfill(emulator, clock, asked=6, days=24)
    log = emulator.requests()
    refused = [n for n, entry in enumerate(log) if entry["status"] == 429]
    assert 1 <= len(refused) <= 6 - 3, "one 429 per slot asked beyond the limit, at most"
    assert limiter.limit == 3, "the limit learned from the 429s"
    submits = [n for n, entry in enumerate(log) if entry["kind"] == "submit"]
    assert len(submits) == 24 + len(refused), "every refused submit was sent again, once"
    assert refused[-1] < submits[2 * 6], "no 429 after the first rounds"
