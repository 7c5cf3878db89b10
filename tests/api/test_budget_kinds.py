"""Each kind of wait spends only its own budget (issue 28, item 3): the backoff waits of 5xx and
connection failures between two 429s spend no busy time, waits for a slot or a failing server
on a job's polls spend no poll time, and the busy line never blames another client while the
run's own jobs, refused on their polls, hold the slots: both streams on one account, and two
taps on one account.

Time is the test's: the tap's budgets and the emulator's jobs read one `ManualClock`. In the
client tests the tap's waits move that clock too, each by exactly what the tap chose to wait
(backoff waits fixed at 10 s, not jittered): "a burst of 503s for a minute" is then an exact
input, whatever the machine's speed. In the run tests the clock moves only while every request
being waited on is refused with a 429, so every second of it is a wait for a slot.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tap_clevertap_counts.api import budgets
from tap_clevertap_counts.api.budgets import AccountClock
from tap_clevertap_counts.api.client import CleverTapClient
from tap_clevertap_counts.emulator import Emulator, ManualClock
from tap_clevertap_counts.errors import AccountBusyError
from tap_clevertap_counts.running import run as run_module
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import LAUNCHES, PIZZA, tap_config, wait_until
from tests.singer.test_event_counts import catalog_selecting

from .test_clocks import HOUR, REQUEST, client_for, expected

BACKOFF = 10.0  # every backoff wait, between 429s and between failures alike
FAILURES = ["server_500", "later_503", "reset", "maintenance_503", "server_500"]


def waits_move_the_clock(
    client: CleverTapClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's waits take no real time: each moves the test's clock by what it waits."""
    monkeypatch.setattr(client, "_wait", clock.advance)
    monkeypatch.setattr(client.settings, "backoff_waits", lambda: itertools.repeat(BACKOFF))


@pytest.mark.parametrize("on", ["submit", "poll"])
def test_5xx_and_connection_waits_between_429s_spend_no_busy_time(
    make_emulator: Callable[..., Emulator],
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    on: str,
) -> None:
    """busy_timeout 15 s: a 429 (10 s waiting for a slot), five failures (500, 503, a cut
    connection, 503, 500: 50 s of backoff), a 429 again, then the count. 10 s of busy time:
    the count comes. (Charged to the busy budget, those 60 s stopped the run as "busy".)"""
    polls = on == "poll"
    emulator = make_emulator(partial_share=float(polls), job_seconds=1.0, clock=clock)
    for kind in ["busy_429", *FAILURES, "busy_429"]:
        emulator.inject(kind, on=on)
    client = client_for(emulator, clock, busy_timeout=15.0, poll_interval=30.0)
    waits_move_the_clock(client, clock, monkeypatch)
    assert client.count(REQUEST) == expected(emulator)
    log = emulator.requests()
    forced = [e["injected"] for e in log if e["kind"] == on and e["injected"]]
    assert forced == ["busy_429", *FAILURES, "busy_429"], forced
    accepted = [e for e in log if e["kind"] == "submit" and not e["injected"]]
    assert len(accepted) == 1, "one job, never submitted again"
    assert clock() == pytest.approx((30.0 if polls else 0.0) + 7 * BACKOFF)


def test_waits_for_a_slot_or_a_failing_server_on_polls_spend_no_poll_time(
    make_emulator: Callable[..., Emulator], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """poll_timeout 45 s, a job of 75 s, polls every 30 s: the first poll (t=30) meets a 429,
    then three 503s (40 s of waits in all); the poll at t=70 finds the job still computing
    after 30 s of polling, not 70, and the next one (t=100) counts it."""
    emulator = make_emulator(partial_share=1.0, job_seconds=75.0, clock=clock)
    for kind in ["busy_429", "later_503", "later_503", "later_503"]:
        emulator.inject(kind, on="poll")
    client = client_for(emulator, clock, poll_timeout=45.0, poll_interval=30.0)
    waits_move_the_clock(client, clock, monkeypatch)
    assert client.count(REQUEST) == expected(emulator)
    polls = [(e["status"], (e["answer"] or {})) for e in emulator.requests() if e["kind"] == "poll"]
    statuses = [status for status, _ in polls]
    assert statuses == [429, 503, 503, 503, 200, 200], statuses
    assert [answer.get("status") for _, answer in polls[-2:]] == ["partial", "success"]
    assert clock() == pytest.approx(100.0)


class Tap:
    """A tap run in a thread (output to the test's captured stdout), its error kept."""

    def __init__(self, config: dict[str, Any], catalog: dict[str, Any] | None = None) -> None:
        self.error: BaseException | None = None
        tap = TapClevertapCounts(config=config, catalog=catalog)
        self.thread = threading.Thread(target=self._sync, args=(tap,), daemon=True)
        self.thread.start()

    def _sync(self, tap: TapClevertapCounts) -> None:
        try:
            tap.sync_all()
        except BaseException as error:  # the test reads it
            self.error = error

    def busy_line(self) -> str:
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the run did not stop"
        assert isinstance(self.error, AccountBusyError), repr(self.error)
        return str(self.error)


@pytest.fixture
def accounts(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[AccountClock]]:
    """Each run's account clock, in the order the runs planned, on the test's clock."""
    monkeypatch.setattr(budgets, "CLOCK", clock)
    made: list[AccountClock] = []

    class Watched(AccountClock):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(run_module, "AccountClock", Watched)
    yield made


def accepted(
    accounts: list[AccountClock], index: int, jobs: int, computing: int
) -> Callable[[], bool]:
    """Run `index` has had `jobs` accepted, `computing` of them not over (as the tap knows it,
    not only the emulator)."""
    return lambda: (
        len(accounts) > index
        and accounts[index].accepted_jobs == jobs
        and accounts[index].computing == computing
    )


def refused_polls(emulator: Emulator) -> int:
    """The jobs whose polls were answered 429 twice or more: the tap has read a 429 for each,
    so from then on it is waiting for a slot (the clock may move)."""
    refused = Counter(
        e["req_id"] for e in emulator.requests() if e["kind"] == "poll" and e["status"] == 429
    )
    return sum(1 for times in refused.values() if times >= 2)


def refused_submits(emulator: Emulator, query: dict[str, Any]) -> int:
    """The submits of `query` answered 429 (the tap has read the first once a second one
    is logged)."""
    return sum(
        1
        for e in emulator.requests()
        if e["kind"] == "submit"
        and e["status"] == 429
        and (e["body"] or {}).get("event_name") == query["event_name"]
    )


def test_both_streams_own_jobs_refused_on_their_polls_are_not_blamed_on_another_client(
    make_emulator: Callable[..., Emulator], clock: ManualClock, accounts: list[AccountClock]
) -> None:
    """Both streams, 2 jobs at a time per API: the first hour 4 jobs compute, then the last
    day's 2; their polls are refused with 429s for longer than busy_timeout. The run held 2
    slots of the 4 it once had, and the line says they are its own, not another client's."""
    emulator = make_emulator(
        partial_share=1.0, job_seconds=HOUR, req_id_ttl_seconds=1e9, clock=clock
    )
    config = tap_config(
        emulator,
        start_date="2024-03-01",
        end_date="2024-03-03",
        queries=[LAUNCHES],
        max_concurrent_queries=2,
        busy_timeout_seconds=0.5 * HOUR,
        poll_timeout_seconds=10 * HOUR,
        count_events=True,
    )
    tap = Tap(config, catalog_selecting("profile_counts", "event_counts"))
    wait_until(accepted(accounts, 0, 4, 4), "two days of both streams computing")
    assert emulator.running_jobs() == 4
    clock.advance(HOUR)  # they end; the last day of each stream is accepted
    wait_until(accepted(accounts, 0, 6, 2), "the last day of both streams computing")
    emulator.inject("busy_429", times=1_000_000, on="poll")
    wait_until(lambda: refused_polls(emulator) == 2, "both jobs' polls refused")
    clock.advance(0.6 * HOUR)
    line = tap.busy_line()
    assert "2 of this run's own queries held the account's slots" in line, line
    assert "another client" not in line, line


def test_two_taps_on_one_account_each_names_whose_jobs_hold_the_slots(
    make_emulator: Callable[..., Emulator], clock: ManualClock, accounts: list[AccountClock]
) -> None:
    """One account, 2 slots, then 1: tap A's last job holds it and its polls are refused,
    tap B's submits are refused. Past busy_timeout A's line names its own query (though it
    once held 2 slots), B's names another client and that it held none."""
    emulator = make_emulator(
        partial_share=1.0,
        job_seconds=HOUR,
        req_id_ttl_seconds=1e9,
        concurrency_limit=2,
        clock=clock,
    )
    settings: dict[str, Any] = {
        "busy_timeout_seconds": 0.5 * HOUR,
        "poll_timeout_seconds": 10 * HOUR,
        "max_concurrent_queries": 2,
    }
    first = Tap(tap_config(emulator, end_date="2024-03-03", queries=[LAUNCHES], **settings))
    wait_until(accepted(accounts, 0, 2, 2), "tap A's first two jobs computing")
    clock.advance(HOUR)  # they end; A's last day is accepted
    wait_until(accepted(accounts, 0, 3, 1), "tap A's last job computing")
    emulator.update(concurrency_limit=1)  # and holds the account's only slot
    second = Tap(tap_config(emulator, end_date="2024-03-01", queries=[PIZZA], **settings))
    wait_until(lambda: refused_submits(emulator, PIZZA) >= 2, "tap B refused")
    emulator.inject("busy_429", times=1_000_000, on="poll")
    wait_until(lambda: refused_polls(emulator) == 1, "tap A's job's polls refused")
    clock.advance(0.6 * HOUR)
    own = first.busy_line()
    assert "1 of this run's own queries held the account's slots" in own, own
    assert "another client" not in own, own
    neighbour = second.busy_line()
    assert "probably by another client of the account (this run held 0)" in neighbour, neighbour
    assert accounts[1].accepted_jobs == 0
