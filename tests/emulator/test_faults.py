"""Seeded faults: shares within tolerance, the same sequence for the same seed, slowness,
and runtime changes."""

from __future__ import annotations

import collections
import datetime
from collections.abc import Callable

import pytest
import requests

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tests.emulator.conftest import Client

ONE_DAY = {"event_name": "Charged", "from": 20240101, "to": 20240101}
N = 1000


def test_fault_shares_over_a_thousand_requests(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(fault_429=0.1, fault_500=0.05, fault_503=0.15, partial_share=0.0)
    client = Client(emu)
    answers: collections.Counter[tuple[int, str]] = collections.Counter()
    for i in range(N):
        # Submits and polls both draw faults; a poll of an unknown req_id is otherwise a 400.
        response = client.submit(ONE_DAY) if i % 2 else client.poll(123)
        answer = response.json()
        answers[response.status_code, answer.get("error", "")] += 1
    share = {status: 0.0 for status in (200, 400, 429, 500, 503)}
    for (status, _), count in answers.items():
        share[status] += count / N
    assert share[429] == pytest.approx(0.10, abs=0.035)
    assert share[500] == pytest.approx(0.05, abs=0.025)
    assert share[503] == pytest.approx(0.15, abs=0.04)
    assert share[200] + share[400] == pytest.approx(0.70, abs=0.05)
    # Both words of each status come up.
    for error in (
        "Too many concurrent requests",
        "Invalid query blocking this because of too many retries",
        "Please come back later",
        "System under maintenance. Please retry later.",
    ):
        assert sum(c for (_, e), c in answers.items() if e == error) > 10
    log = emu.requests()
    assert len(log) == N
    assert collections.Counter(e["kind"] for e in log) == {"submit": N // 2, "poll": N // 2}


def test_same_seed_same_faults(make_emu: Callable[..., Emulator]) -> None:
    def statuses(seed: int) -> list[int]:
        client = Client(make_emu(seed=seed, fault_429=0.2, fault_500=0.2, fault_503=0.2))
        return [client.submit(ONE_DAY).status_code for _ in range(60)]

    assert statuses(3) == statuses(3)
    assert statuses(3) != statuses(4)


def test_partial_share(make_emu: Callable[..., Emulator]) -> None:
    client = Client(make_emu(partial_share=0.3, job_seconds=0.0, concurrency_limit=1000))
    partial = sum(client.submit(ONE_DAY).json()["status"] == "partial" for _ in range(400))
    assert partial / 400 == pytest.approx(0.3, abs=0.07)


def test_expire_share(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, expire_share=0.25, job_seconds=0.0, concurrency_limit=1000)
    client = Client(emu)
    expired = 0
    for _ in range(300):
        req_id = client.submit(ONE_DAY).json()["req_id"]
        answer = client.poll(req_id).json()
        if answer.get("error") == "Invalid request ID":
            expired += 1
        else:
            assert answer["status"] == "success"
            assert client.poll(req_id).json()["status"] == "success"  # only the first poll
    assert expired / 300 == pytest.approx(0.25, abs=0.07)


def test_async_fail_share(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, async_fail_share=0.2, job_seconds=0.0, concurrency_limit=1000)
    client = Client(emu)
    failed = 0
    for _ in range(300):
        req_id = client.submit(ONE_DAY).json()["req_id"]
        response = client.poll(req_id)
        if response.status_code == 400:
            assert response.json()["error"] == "Error Processing, Please try again later"
            failed += 1
    assert failed / 300 == pytest.approx(0.2, abs=0.07)


def test_slow_seconds_trips_a_client_timeout(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(slow_seconds=0.3)
    client = Client(emu)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.submit(ONE_DAY, timeout=0.05)
    emu.update(slow_seconds=0.0)
    assert client.submit(ONE_DAY, timeout=10).json()["status"] == "success"


def test_update_is_checked(emu: Emulator) -> None:
    with pytest.raises(TypeError, match="no_such_field"):
        emu.update(no_such_field=1)
    with pytest.raises(ValueError, match="fault_500"):
        emu.update(fault_500=1.5)
    with pytest.raises(ValueError, match="exceed"):
        emu.update(fault_429=0.6, fault_503=0.6)
    with pytest.raises(ValueError, match="concurrency_limit"):
        EmulatorConfig(concurrency_limit=0)
    emu.update(fault_500=1.0)
    assert Client(emu).submit(ONE_DAY).status_code == 500
    emu.update(fault_500=0.0)
    assert Client(emu).submit(ONE_DAY).status_code == 200


def test_config_repr_hides_the_passcode() -> None:
    config = EmulatorConfig(passcode="sekret-do-not-show", today=datetime.date(2024, 1, 1))
    assert "sekret" not in repr(config)


def test_an_injection_after_n_lets_the_first_n_matching_requests_through(client: Client) -> None:
    """`after=2` on submits: the third submit gets the forced answer, the fourth the usual."""
    client.emulator.inject("rejected_400", on="submit", after=2)
    answers = [client.submit() for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 400, 200]
    assert answers[2].json()["status"] == "fail"
    assert [answers[n].json()["status"] for n in (0, 1, 3)] == ["success"] * 3
    with pytest.raises(ValueError, match="after"):
        client.emulator.inject("rejected_400", after=-1)
