"""A busy account is capacity, not failure (issue 9).

Two taps on one CleverTap account share its 3 concurrent count queries: each gets 429s when the
other holds the slots, and both must finish with exact counts and complete bookmarks. A 429 that
never ends stops the run within `busy_timeout_seconds`, in one line that says so.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator

from .conftest import LAUNCHES, PIZZA, TapRun, assert_exact, bookmarks, run_cli, tap_config
from .oracle import all_periods

PREFIX = "tap-clevertap-counts: error:"


def test_two_taps_on_one_account_both_finish_exactly(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emulator = make_emulator(
        partial_share=1.0,
        job_seconds=0.1,
        concurrency_limit=3,
        today=datetime.date(2024, 3, 31),
    )
    start, end = datetime.date(2024, 3, 1), datetime.date(2024, 3, 20)
    config = tap_config(
        emulator,
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        queries=[PIZZA, LAUNCHES],
        max_concurrent_queries=3,
        poll_interval_seconds=0.05,
    )
    runs: dict[str, TapRun] = {}

    def tap(name: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        runs[name] = run_cli([], config, folder, timeout=120)

    threads = [threading.Thread(target=tap, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    days = len(all_periods("day", start, end))
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr[-2000:])
        assert "Traceback" not in run.stderr
        assert len(run.records) == 2 * days, name
        assert len(set(run.periods())) == 2 * days, name
        assert_exact(emulator, config, run)
        assert bookmarks(run.state) == {"pizza": end.isoformat(), "launches": end.isoformat()}
    refused = [e for e in emulator.requests() if e["status"] == 429]
    print(f"429 answers while sharing the account: {len(refused)}")
    assert refused, "the two taps never collided: the test proved nothing"
    assert emulator.inflight_peak() >= 3


def hold_the_account(emulator: Emulator, jobs: int) -> None:
    """Another client of the account submits `jobs` queries that stay pending."""
    for n in range(jobs):
        body = {"event_name": "Charged", "from": 20240301 + n, "to": 20240301 + n}
        request = urllib.request.Request(
            f"{emulator.url}/1/counts/profiles.json",
            data=json.dumps(body).encode(),
            headers={
                "X-CleverTap-Account-Id": DEMO_ACCOUNT_ID,
                "X-CleverTap-Passcode": DEMO_PASSCODE,
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.load(answer)["status"] == "partial"


@pytest.mark.parametrize("how", ["busy_429", "retries_429", "held_by_a_neighbour"])
def test_a_429_that_never_ends_stops_within_busy_timeout_in_one_line(
    make_emulator: Callable[..., Emulator], tmp_path: Path, how: str
) -> None:
    if how == "held_by_a_neighbour":
        emulator = make_emulator(partial_share=1.0, job_seconds=60, today=datetime.date(2024, 4, 1))
        hold_the_account(emulator, 3)
    else:
        emulator = make_emulator(partial_share=0.0, today=datetime.date(2024, 4, 1))
        emulator.inject(how, times=1_000_000, on="submit")
    emulator.clear_log()
    config: dict[str, Any] = tap_config(
        emulator,
        start_date="2024-03-01",
        end_date="2024-03-03",
        queries=[PIZZA],
        busy_timeout_seconds=1,
    )
    began = time.monotonic()
    run = run_cli([], config, tmp_path, timeout=60)
    elapsed = time.monotonic() - began
    submits = [e for e in emulator.requests() if e["kind"] == "submit"]
    assert submits, run.stderr[-2000:]
    assert all(e["status"] == 429 for e in submits)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith(PREFIX)]
    assert len(errors) == 1, run.stderr[-2000:]
    line = errors[0]
    assert "429" in line or "busy" in line.lower().replace("busy_timeout_seconds", ""), line
    assert "busy_timeout_seconds" in line, line
    assert run.records == []
    # within the bound, not after the default's two hours (a generous margin: a loaded machine)
    assert elapsed < 30, elapsed
    print(f"{how}: stopped after {elapsed:.1f} s and {len(submits)} refused submits")
