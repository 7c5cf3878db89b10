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
from tests.conftest import LAUNCHES, PIZZA, TapRun, assert_exact, bookmarks, run_cli, tap_config
from tests.oracle import all_periods

PREFIX = "tap-clevertap-counts: error:"


SUSHI = {
    "name": "sushi",
    "event_name": "choseNewFavoriteFood",
    "event_properties": [{"name": "value", "operator": "equals", "value": "sushi"}],
}
IOS = {
    "name": "ios",
    "event_name": "App Launched",
    "event_properties": [{"name": "platform", "operator": "equals", "value": "iOS"}],
}
TAPS: dict[str, list[dict[str, Any]]] = {"first": [PIZZA, LAUNCHES], "second": [SUSHI, IOS]}


def owner(entry: dict[str, Any]) -> str | None:
    """Which tap sent this submit (each asks for its own event and filters)."""
    body = entry["body"]
    if entry["kind"] != "submit" or not isinstance(body, dict):
        return None
    for tap, queries in TAPS.items():
        for query in queries:
            same_event = body.get("event_name") == query["event_name"]
            if same_event and (body.get("event_properties") or []) == query.get(
                "event_properties", []
            ):
                return tap
    return None


def wait_for(condition: Callable[[], bool], limit: float = 60.0) -> None:
    """Synchronise with the taps through the emulator's log (not a timed assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the taps never got that far"
        time.sleep(0.02)


def test_two_taps_on_one_account_both_finish_exactly(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Both taps start while a third client holds the account's 3 slots: each gets 429s and
    waits; then 3 slots free up and the two share them (each wanting 3): both finish."""
    emulator = make_emulator(
        partial_share=1.0,
        job_seconds=60,
        concurrency_limit=3,
        today=datetime.date(2024, 3, 31),
    )
    hold_the_account(emulator, 3)  # pending for a minute: the account is full
    emulator.update(job_seconds=0.1)  # the taps' jobs last two poll intervals
    start, end = datetime.date(2024, 3, 1), datetime.date(2024, 3, 12)
    configs = {
        name: tap_config(
            emulator,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            queries=queries,
            max_concurrent_queries=3,
            poll_interval_seconds=0.05,
        )
        for name, queries in TAPS.items()
    }
    runs: dict[str, TapRun] = {}

    def tap(name: str) -> None:
        folder = tmp_path / name
        folder.mkdir()
        runs[name] = run_cli([], configs[name], folder, timeout=120)

    threads = [threading.Thread(target=tap, args=(name,)) for name in TAPS]
    for thread in threads:
        thread.start()
    try:
        # both taps are running and told the account is busy ...
        wait_for(lambda: {owner(e) for e in emulator.requests() if e["status"] == 429} >= set(TAPS))
    finally:
        # ... then three slots free up (the held jobs keep theirs), for the two to share
        emulator.update(concurrency_limit=6)
        for thread in threads:
            thread.join()

    days = len(all_periods("day", start, end))
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr[-2000:])
        assert "Traceback" not in run.stderr
        assert len(run.records) == 2 * days, name
        assert len(set(run.periods())) == 2 * days, name
        assert_exact(emulator, configs[name], run)
        assert bookmarks(run.state) == {q["name"]: end.isoformat() for q in TAPS[name]}
    refused = [e for e in emulator.requests() if e["status"] == 429]
    log = emulator.requests()
    first_429 = min(e["t"] for e in refused)
    done = max(e["t"] for e in log)
    print(
        f"429 answers while sharing the account: {len(refused)}; "
        f"{done - first_429:.1f} s from the first 429 to the last request; {len(log)} requests"
    )
    print(f"the account's peak load: {emulator.inflight_peak()} (3 of them held)")


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
    # Bounded by busy_timeout_seconds, not the default's two hours: a tap that kept waiting
    # would hit this subprocess timeout and fail. No elapsed time is asserted (a loaded machine).
    run = run_cli([], config, tmp_path, timeout=120)
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
    print(f"{how}: stopped after {elapsed:.1f} s and {len(submits)} refused submits")
