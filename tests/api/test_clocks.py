"""Separate clocks (issue 21, item 2): waiting for a slot spends only busy_timeout_seconds, a
job's poll clock starts when it is accepted, the 5xx budget counts failures in a row, the busy
clock restarts with every accepted job, and the run's own pools sharing one account limit never
fail each other as "busy".

Time is the test's: the emulator's jobs and the tap's budgets read one `ManualClock`, so "an
hour waiting for a slot" is one `advance`, whatever the machine's speed. (The tap's own waits
between tries stay real and short: a poll interval of 0.01 s.)
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from tap_clevertap_counts.api import budgets
from tap_clevertap_counts.api.budgets import AccountClock
from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings, CountRequest
from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, ManualClock
from tap_clevertap_counts.errors import (
    AccountBusyError,
    PollTimeoutError,
    RetriesExhaustedError,
    StoppedError,
)
from tap_clevertap_counts.running import run as run_module
from tests.conftest import (
    LAUNCHES,
    ROUND_SECONDS,
    assert_exact,
    bookmarks,
    run_tap_in_rounds,
    tap_config,
    wait_until,
)
from tests.singer.test_event_counts import EVENTS, PROFILES, catalog_selecting

from .test_neighbours import hold_the_account

DAY = datetime.date(2024, 3, 5)
REQUEST = CountRequest("launches", "App Launched", (), DAY, DAY)
HOUR = 3600.0
BUSY_TIMEOUT = 1.5 * ROUND_SECONDS  # shorter than two of the other pool's jobs


class Background:
    """Counts run in threads while the test moves the clock; all of them stop when it ends."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.stop = threading.Event()

    def count(self, client: CleverTapClient) -> Future[int]:
        client.stop = self.stop  # one run: a failure of any client stops them all
        return self.pool.submit(client.count, REQUEST)


@pytest.fixture
def background() -> Iterator[Background]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = Background(pool)
        try:
            yield runs
        finally:
            runs.stop.set()


def client_for(
    emulator: Emulator,
    clock: ManualClock,
    path: str = PROFILES,
    account: AccountClock | None = None,
    **overrides: Any,
) -> CleverTapClient:
    """A client whose budgets read the test's clock (and, given one, share a run's account)."""
    settings: dict[str, Any] = {
        "base_url": emulator.url,
        "account_id": DEMO_ACCOUNT_ID,
        "passcode": DEMO_PASSCODE,
        "request_timeout": 5.0,
        "poll_interval": 0.01,
        "path": path,
    }
    settings.update(overrides)
    return CleverTapClient(ClientSettings(**settings), account=account or AccountClock(clock))


def expected(emulator: Emulator) -> int:
    return emulator.store.count_profiles(REQUEST.event_name, [], DAY, DAY)


def answered(emulator: Emulator, kind: str, status: int, path: str = PROFILES) -> int:
    return sum(
        1
        for e in emulator.requests()
        if e["kind"] == kind and e["status"] == status and e["path"].startswith(path)
    )


def neighbour_holds_the_slot(
    make_emulator: Callable[..., Emulator], clock: ManualClock
) -> Emulator:
    """An account of one slot, held by another client's job that ends in an hour (test time);
    the jobs submitted after it take 10 s."""
    emulator = make_emulator(
        partial_share=1.0,
        job_seconds=HOUR,
        concurrency_limit=1,
        req_id_ttl_seconds=1e9,  # a job stays known however long its polls are refused
        clock=clock,
    )
    hold_the_account(emulator, 1)
    emulator.update(job_seconds=10.0)
    emulator.clear_log()
    return emulator


def test_an_hour_waiting_for_a_slot_spends_no_poll_time(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    background: Background,
) -> None:
    """poll_timeout 60 s, an hour of 429s first: the job's poll clock starts when it is
    accepted, so its 10 s of computing fit."""
    emulator = neighbour_holds_the_slot(make_emulator, clock)
    client = client_for(emulator, clock, poll_timeout=60.0, busy_timeout=2 * HOUR)
    counted = background.count(client)
    wait_until(lambda: answered(emulator, "submit", 429) >= 2, "two refused submits")
    clock.advance(HOUR)  # the neighbour's job ends: ours is accepted an hour after we asked
    wait_until(lambda: answered(emulator, "poll", 200) >= 1, "our job accepted and polled")
    clock.advance(10.0)
    assert counted.result(timeout=60) == expected(emulator)
    submits = [e["status"] for e in emulator.requests() if e["kind"] == "submit"]
    assert submits[-1] == 200 and set(submits[:-1]) == {429}, "asked until accepted, once"


def test_never_ending_job_times_out(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    background: Background,
) -> None:
    """The poll clock, once started, bounds a job that never ends."""
    emulator = make_emulator(partial_share=1.0, job_seconds=1e9, clock=clock)
    client = client_for(emulator, clock, poll_timeout=60.0)
    counted = background.count(client)
    wait_until(lambda: answered(emulator, "poll", 200) >= 1, "the job accepted and polled")
    polled = answered(emulator, "poll", 200)
    clock.advance(59.0)
    wait_until(lambda: answered(emulator, "poll", 200) >= polled + 2, "polls at 59 s")
    assert not counted.done(), "59 s of 60: still polling"
    clock.advance(1.0)
    with pytest.raises(PollTimeoutError, match="after 60 s"):
        counted.result(timeout=60)


def test_the_5xx_budget_counts_failures_in_a_row_not_across_429s(
    make_emulator: Callable[..., Emulator], clock: ManualClock
) -> None:
    emulator = make_emulator(partial_share=0.0, clock=clock)
    for _ in range(4):  # 4 x (503, 429): never two 503s in a row, 4 of them in all
        emulator.inject("later_503", on="submit")
        emulator.inject("busy_429", on="submit")
    client = client_for(emulator, clock, max_tries=3)
    assert client.count(REQUEST) == expected(emulator)
    assert [e["status"] for e in emulator.requests()] == [503, 429] * 4 + [200]
    # ... while 3 in a row still spend the budget of 3
    emulator.clear_log()
    emulator.inject("later_503", times=2, on="submit")
    emulator.inject("busy_429", on="submit")
    emulator.inject("later_503", times=3, on="submit")
    with pytest.raises(RetriesExhaustedError, match="after 3 tries"):
        client.count(REQUEST)
    assert [e["status"] for e in emulator.requests()] == [503, 503, 429, 503, 503, 503]


def test_the_busy_clock_restarts_once_the_job_is_accepted(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    background: Background,
) -> None:
    """An hour of 429s before acceptance, then 429s on the job's polls for 0.6 hours more: with
    a busy timeout of 1.5 hours, those are a new wait of 0.6 hours, not 1.6 hours of one."""
    emulator = neighbour_holds_the_slot(make_emulator, clock)
    emulator.inject("busy_429", times=1_000_000, on="poll")  # until the test ends it
    client = client_for(emulator, clock, poll_timeout=HOUR, busy_timeout=1.5 * HOUR)
    counted = background.count(client)
    wait_until(lambda: answered(emulator, "submit", 429) >= 2, "two refused submits")
    clock.advance(HOUR)
    wait_until(lambda: answered(emulator, "poll", 429) >= 1, "a 429 on our job's poll")
    clock.advance(0.6 * HOUR)  # 1.6 hours since the first 429, 0.6 since the job was accepted
    refused = answered(emulator, "poll", 429)
    wait_until(lambda: answered(emulator, "poll", 429) > refused, "a 429 at 1.6 hours")
    emulator.clear_injections()
    assert counted.result(timeout=60) == expected(emulator)
    assert sum(1 for e in emulator.requests() if e["kind"] == "submit" and e["status"] == 200) == 1


def test_a_neighbour_holding_the_slots_is_named_after_busy_timeout(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    background: Background,
) -> None:
    emulator = neighbour_holds_the_slot(make_emulator, clock)
    client = client_for(emulator, clock, busy_timeout=0.5 * HOUR)
    counted = background.count(client)
    wait_until(lambda: answered(emulator, "submit", 429) >= 2, "two refused submits")
    refused = answered(emulator, "submit", 429)
    clock.advance(0.4 * HOUR)
    wait_until(lambda: answered(emulator, "submit", 429) > refused, "refused after 0.4 hours")
    assert not counted.done()
    clock.advance(0.1 * HOUR)
    with pytest.raises(AccountBusyError) as caught:
        counted.result(timeout=60)
    message = str(caught.value)
    assert "another client" in message and "this run held 0" in message, message
    assert "busy_timeout_seconds" in message


def test_the_runs_own_jobs_holding_the_slots_are_not_blamed_on_another_client(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    background: Background,
) -> None:
    """One slot for the whole account: the profiles pool's job holds it and never ends, the
    events pool's request waits. Its failure names the run's own query, not another client."""
    emulator = make_emulator(
        partial_share=1.0, job_seconds=1e9, concurrency_limit=1, shared_limit=True, clock=clock
    )
    account = AccountClock(clock)
    profiles = client_for(emulator, clock, poll_timeout=10 * HOUR, account=account)
    events = client_for(emulator, clock, EVENTS, busy_timeout=HOUR, account=account)
    held = background.count(profiles)
    wait_until(lambda: answered(emulator, "poll", 200) >= 1, "the profiles job accepted")
    waiting = background.count(events)
    wait_until(lambda: answered(emulator, "submit", 429, EVENTS) >= 2, "events refused")
    clock.advance(HOUR)
    with pytest.raises(AccountBusyError) as caught:
        waiting.result(timeout=60)
    message = str(caught.value)
    assert "another client" not in message, message
    assert "1 of this run's own queries" in message, message
    with pytest.raises(StoppedError):
        held.result(timeout=60)  # the run stopped: its other job sends nothing more


def test_own_pools_sharing_one_slot_never_fail_each_other_as_busy(
    make_emulator: Callable[..., Emulator], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both streams, 3 in flight per API, one slot for the whole account, jobs an hour long,
    busy_timeout 1.5 hours: a pool waits out two or more of the other pool's jobs, and the run
    still ends exact with every day of both streams."""
    monkeypatch.setattr(budgets, "CLOCK", clock)
    accounts: list[AccountClock] = []

    class Watched(AccountClock):
        def __init__(self) -> None:
            super().__init__()
            accounts.append(self)

    monkeypatch.setattr(run_module, "AccountClock", Watched)
    emulator = make_emulator(
        partial_share=1.0,
        job_seconds=ROUND_SECONDS,
        req_id_ttl_seconds=1e9,
        concurrency_limit=1,
        shared_limit=True,
        clock=clock,
    )
    days = 6
    config = tap_config(
        emulator,
        start_date="2024-03-01",
        end_date=f"2024-03-{days:02d}",
        queries=[LAUNCHES],
        max_concurrent_queries=3,
        busy_timeout_seconds=BUSY_TIMEOUT,
        poll_timeout_seconds=10 * ROUND_SECONDS,  # a job is one round; polls may see two
        count_events=True,
    )
    rounds: list[int] = []  # the log's length at each jump of the clock

    def round_over() -> bool:
        """One job runs, and the tap knows of every job accepted so far (jumping before it
        does would be a wait no real account makes: an hour between an answer and its read)."""
        if emulator.running_jobs() != 1 or not accounts:
            return False
        if accounts[0].accepted_jobs != answered(emulator, "submit", 200, ""):
            return False
        rounds.append(len(emulator.requests()))
        return True

    catalog = catalog_selecting("profile_counts", "event_counts")
    run = run_tap_in_rounds(config, clock, round_over, catalog=catalog)
    assert_exact(emulator, config, run)
    every_day = [f"2024-03-{day:02d}" for day in range(1, days + 1)]
    assert [r["to_date"] for r in run.records] == every_day
    assert [r["to_date"] for r in run.event_records] == every_day
    assert bookmarks(run.state, "event_counts") == {"launches": every_day[-1]}
    log = emulator.requests()
    assert len(rounds) == 2 * days, "one job at a time: the one slot never held two"
    # Some question was refused through more than busy_timeout of the test's clock: between
    # its first 429 and its acceptance the clock jumped twice or more (an hour each).
    longest = 0
    refused_since: dict[tuple[str, Any], int] = {}
    for index, entry in enumerate(log):
        if entry["kind"] != "submit":
            continue
        question = (entry["path"], entry["body"]["from"])
        if entry["status"] == 429:
            refused_since.setdefault(question, index)
        elif question in refused_since:
            since = refused_since.pop(question)
            longest = max(longest, sum(1 for mark in rounds if since < mark <= index))
    assert longest * ROUND_SECONDS > BUSY_TIMEOUT, f"no pool waited past busy_timeout: {longest}"
