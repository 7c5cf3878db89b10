"""The asynchronous flow (partial, poll, success), req_id expiry, and the concurrency limit."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable

import pytest

from tap_clevertap_counts.emulator import Emulator, ManualClock
from tests.emulator.conftest import EVENTS, HEADERS, PIZZA_BODY, PROFILES, Client, fail

FROM = datetime.date(2024, 1, 1)
TO = datetime.date(2024, 1, 7)


def test_partial_then_partial_then_success_with_the_synchronous_count(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5, clock=clock)
    client = Client(emu)
    first = client.submit()
    assert first.status_code == 200
    answer = first.json()
    assert answer["status"] == "partial"
    req_id = answer["req_id"]
    assert isinstance(req_id, int)
    assert len(str(req_id)) == 15

    assert client.poll(req_id).json() == {"status": "partial", "req_id": req_id}
    clock.advance(4.9)
    assert client.poll(req_id).json() == {"status": "partial", "req_id": req_id}
    clock.advance(0.1)
    done = client.poll(req_id)
    assert done.status_code == 200
    async_count = done.json()["count"]

    emu.update(partial_share=0.0)
    sync = client.submit().json()
    assert sync["status"] == "success"
    assert async_count == sync["count"]
    expected = emu.store.count_profiles(
        "choseNewFavoriteFood", PIZZA_BODY["event_properties"], FROM, TO
    )
    assert async_count == expected > 0
    # A finished job can be polled again until its req_id expires.
    assert client.poll(req_id).json() == {"status": "success", "count": expected}


def test_events_endpoint_counts_occurrences(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5, clock=clock)
    client = Client(emu)
    req_id = client.submit(path=EVENTS).json()["req_id"]
    clock.advance(5)
    count = client.poll(req_id, path=EVENTS).json()["count"]
    properties = PIZZA_BODY["event_properties"]
    assert count == emu.store.count_events("choseNewFavoriteFood", properties, FROM, TO)
    assert count > emu.store.count_profiles("choseNewFavoriteFood", properties, FROM, TO)
    # A job belongs to its endpoint.
    other = client.poll(req_id, path=PROFILES)
    assert (other.status_code, other.json()) == (400, fail("Invalid request ID"))


def test_req_id_lives_for_its_ttl_after_the_job_ends(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5, req_id_ttl_seconds=60, clock=clock)
    client = Client(emu)
    req_id = client.submit().json()["req_id"]
    clock.advance(5)
    assert client.poll(req_id).json()["status"] == "success"
    clock.advance(60)  # the last moment of its ttl
    assert client.poll(req_id).json()["status"] == "success"
    clock.advance(0.5)
    response = client.poll(req_id)
    assert (response.status_code, response.json()) == (400, fail("Invalid request ID"))


def test_expire_share_expires_req_ids_at_their_first_poll(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, expire_share=1.0, job_seconds=5.0, clock=clock)
    client = Client(emu)
    req_id = client.submit().json()["req_id"]
    response = client.poll(req_id)
    assert (response.status_code, response.json()) == (400, fail("Invalid request ID"))
    # An expired job no longer runs, so it gives its concurrency slot back.
    for _ in range(3):
        assert client.submit().json()["status"] == "partial"


def test_async_failure_only_once_the_job_ends(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, async_fail_share=1.0, job_seconds=5, clock=clock)
    client = Client(emu)
    req_id = client.submit().json()["req_id"]
    assert client.poll(req_id).json()["status"] == "partial"
    clock.advance(5)
    for _ in range(2):
        assert client.poll(req_id).json() == fail("Error Processing, Please try again later")


def test_partial_jobs_hold_slots_until_they_end(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5, concurrency_limit=3, clock=clock)
    client = Client(emu)
    ids = [client.submit().json()["req_id"] for _ in range(3)]
    refused = client.submit()
    assert (refused.status_code, refused.json()) == (429, fail("Too many concurrent requests"))
    assert emu.running_jobs() == 3, "a refused submit starts no job"
    # Polls of running jobs never get a concurrency 429: the job holds the slot already.
    for req_id in ids:
        assert client.poll(req_id).json() == {"status": "partial", "req_id": req_id}
    clock.advance(5)
    assert emu.running_jobs() == 0
    accepted = client.submit()
    assert accepted.json()["status"] == "partial"
    assert emu.running_jobs() == 1
    # Finished jobs' polls take a slot, and there is one free: 1 running job + this poll.
    assert client.poll(ids[0]).json()["status"] == "success"

    log = [e for e in emu.requests() if e["kind"] == "submit"]
    assert [e["inflight"] for e in log] == [1, 2, 3, 4, 1]
    assert [e["status"] for e in log] == [200, 200, 200, 429, 200]
    assert emu.inflight_peak() == 4


def test_a_finished_jobs_poll_can_be_refused_when_the_account_is_full(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5, concurrency_limit=1, clock=clock)
    client = Client(emu)
    first = client.submit().json()["req_id"]
    clock.advance(5)
    assert client.submit().json()["status"] == "partial"  # now the only slot is taken
    refused = client.poll(first)
    assert (refused.status_code, refused.json()) == (429, fail("Too many concurrent requests"))


def test_requests_being_answered_count_against_the_limit(
    make_emu: Callable[..., Emulator],
) -> None:
    """Synchronous queries hold a slot while they are answered (here: slowly).

    The fourth query goes once the emulator holds three (an event, not a sleep); the three
    take 3 s to answer, a margin no loaded machine needs to send one more request.
    """
    emu = make_emu(slow_seconds=3, concurrency_limit=3)
    statuses: list[int] = []

    def one() -> None:
        client = Client(emu)
        statuses.append(client.submit().status_code)
        client.close()

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while emu.inflight_peak() < 3:
        assert time.monotonic() < deadline, "three queries never got in"
        time.sleep(0.01)
    fourth = Client(emu)
    refused = fourth.submit()
    assert (refused.status_code, refused.json()) == (429, fail("Too many concurrent requests"))
    fourth.close()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200, 200]
    assert emu.inflight_peak() == 4


def test_slots_are_free_before_the_answer_arrives(make_emu: Callable[..., Emulator]) -> None:
    """A client that sends its next query the instant it has an answer is never refused."""
    emu = make_emu(concurrency_limit=1)
    client = Client(emu)
    for _ in range(50):
        assert client.submit().status_code == 200
    assert emu.inflight_peak() == 1


def test_slots_are_per_account(make_emu: Callable[..., Emulator], clock: ManualClock) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5.0, concurrency_limit=1, clock=clock)
    client = Client(emu)
    assert client.submit().json()["status"] == "partial"
    assert client.submit().status_code == 429
    emu.update(account_id="OTHER-ACCOUNT-1")
    headers = {**HEADERS, "X-CleverTap-Account-Id": "OTHER-ACCOUNT-1"}
    assert client.submit(headers=headers).json()["status"] == "partial"


def test_req_ids_are_unique_and_seeded(make_emu: Callable[..., Emulator]) -> None:
    def ids(seed: int) -> list[int]:
        client = Client(make_emu(seed=seed, partial_share=1.0, concurrency_limit=100))
        return [client.submit().json()["req_id"] for _ in range(20)]

    first = ids(1)
    assert len(set(first)) == 20
    assert first == ids(1)
    assert first != ids(2)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_partial_share_extremes(make_emu: Callable[..., Emulator], share: float) -> None:
    client = Client(make_emu(partial_share=share, concurrency_limit=100))
    statuses = {client.submit().json()["status"] for _ in range(20)}
    assert statuses == ({"partial"} if share else {"success"})
