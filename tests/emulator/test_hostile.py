"""Forced answers: every hostile kind answers as documented, once per injection, after the
credentials are checked, and is logged with its kind."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.emulator.faults import KINDS
from tests.emulator.conftest import HEADERS, PROFILES, Client, fail

JSON_ANSWERS = {
    "auth_401": (401, fail("Invalid Credentials")),
    "credentials_400": (400, fail("Account credentials missing")),
    "account_503": (503, fail("12 digit account ID mandatory.")),
    "payload_400": (400, fail("Payload is mandatory")),
    "rejected_400": (400, fail("[unknown event property]")),
    "invalid_query_400": (400, fail("Invalid query")),
    "invalid_req_id_400": (400, fail("Invalid request ID")),
    "error_processing_400": (400, fail("Error Processing, Please try again later")),
    "busy_429": (429, fail("Too many concurrent requests")),
    "retries_429": (429, fail("Invalid query blocking this because of too many retries")),
    "server_500": (500, fail("Server error")),
    "later_503": (503, fail("Please come back later")),
    "maintenance_503": (503, fail("System under maintenance. Please retry later.")),
    "success_no_count": (200, {"status": "success"}),
    "count_string": (200, {"status": "success", "count": "12"}),
    "count_float": (200, {"status": "success", "count": 12.5}),
    "count_negative": (200, {"status": "success", "count": -3}),
    "count_null": (200, {"status": "success", "count": None}),
    "unknown_status": (200, {"status": "weird"}),
    "partial_no_req_id": (200, {"status": "partial"}),
    "req_id_string": (200, {"status": "partial", "req_id": "abc"}),
    "fail_200": (200, fail("Server error")),
}
RAW = {"html_200", "html_502", "truncated_json", "empty_body", "huge_body", "reset", "redirect"}


def test_the_kinds_are_exactly_the_documented_ones() -> None:
    assert set(JSON_ANSWERS) | RAW | {"slow"} == KINDS


def assert_logged(emu: Emulator, kind: str, status: int | None = None) -> None:
    entry = emu.requests()[-1]
    assert entry["answer"] == kind
    assert entry["injected"] == kind
    if status is not None:
        assert entry["status"] == status


@pytest.mark.parametrize("kind", sorted(JSON_ANSWERS))
def test_json_kinds(emu: Emulator, client: Client, kind: str) -> None:
    emu.inject(kind)
    response = client.submit()
    status, answer = JSON_ANSWERS[kind]
    assert (response.status_code, response.json()) == (status, answer)
    assert_logged(emu, kind, status)
    assert client.submit().json()["status"] == "success"  # one use only


@pytest.mark.parametrize(("kind", "status"), [("html_200", 200), ("html_502", 502)])
def test_html_pages(emu: Emulator, client: Client, kind: str, status: int) -> None:
    emu.inject(kind)
    response = client.submit()
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError):
        response.json()
    assert_logged(emu, kind, status)


def test_truncated_json(emu: Emulator, client: Client) -> None:
    emu.inject("truncated_json")
    response = client.submit()
    assert (response.status_code, response.text) == (200, '{"status":"succ')
    with pytest.raises(ValueError):
        response.json()
    assert_logged(emu, "truncated_json", 200)


def test_empty_body(emu: Emulator, client: Client) -> None:
    emu.inject("empty_body")
    response = client.submit()
    assert (response.status_code, response.content) == (200, b"")
    assert_logged(emu, "empty_body", 200)


def test_huge_body(emu: Emulator, client: Client) -> None:
    emu.inject("huge_body")
    response = client.submit()
    assert response.status_code == 200
    assert len(response.content) >= 5 * 1024 * 1024
    assert json.loads(response.content)["status"] == "success"
    assert_logged(emu, "huge_body", 200)


def test_reset_mid_answer(emu: Emulator, client: Client) -> None:
    emu.inject("reset")
    with pytest.raises(
        (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        client.submit()
    assert_logged(emu, "reset")
    assert client.submit().json()["status"] == "success"  # the next connection is fine


def test_slow_then_normal(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=0.0)
    client = Client(emu)
    emu.update(slow_seconds=0.3)
    emu.inject("slow")
    emu.update(slow_seconds=0.0)  # the injection alone must still wait (2 s by default)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.submit(timeout=0.1)
    entry = emu.requests()[-1]
    assert entry["injected"] == "slow"
    assert entry["answer"]["status"] == "success"  # the answer, when it comes, is normal
    assert client.submit(timeout=10).json()["status"] == "success"


def test_slow_uses_slow_seconds_and_answers_normally(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(slow_seconds=0.05)
    client = Client(emu)
    emu.inject("slow")
    assert client.submit(timeout=10).json()["status"] == "success"


def test_redirect_to_another_host(emu: Emulator, client: Client) -> None:
    emu.inject("redirect")
    response = client.submit(allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.endswith(PROFILES)
    assert not location.startswith(emu.url)
    assert emu.redirect_target_hits() == 0
    assert_logged(emu, "redirect", 302)
    # A client that follows it leaks the custom headers (requests strips only Authorization),
    # and the foreign host answers a plausible but wrong count.
    emu.inject("redirect")
    followed = client.submit()
    assert followed.json() == {"status": "success", "count": 999_999}
    assert emu.redirect_target_hits() == 1
    assert emu.redirect_target_saw_credentials()


def test_redirect_target_tells_when_no_credentials_came(emu: Emulator, client: Client) -> None:
    emu.inject("redirect")
    location = client.submit(allow_redirects=False).headers["Location"]
    requests.get(location, timeout=5)
    assert emu.redirect_target_hits() == 1
    assert not emu.redirect_target_saw_credentials()


def test_injections_come_after_the_credential_checks(emu: Emulator, client: Client) -> None:
    emu.inject("html_200")
    wrong = {**HEADERS, "X-CleverTap-Passcode": "wrong"}
    assert client.submit(headers=wrong).status_code == 401
    assert client.submit().text.startswith("<!DOCTYPE html>")


def test_injections_come_before_maintenance(emu: Emulator, client: Client) -> None:
    emu.set_maintenance(True)
    emu.inject("server_500")
    assert client.submit().status_code == 500
    assert client.submit().status_code == 503


def test_times_and_targets(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=0.0)
    client = Client(emu)
    emu.inject("later_503", times=2, on="poll")
    emu.inject("busy_429", on="submit")
    assert client.submit().status_code == 429
    req_id = client.submit().json()["req_id"]
    assert [client.poll(req_id).status_code for _ in range(3)] == [503, 503, 200]
    assert client.submit().json()["status"] == "partial"


def test_bad_injections_are_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown injection kind"):
        emu.inject("teapot_418")
    with pytest.raises(ValueError, match="on must be"):
        emu.inject("server_500", on="both")
    with pytest.raises(ValueError, match="times"):
        emu.inject("server_500", times=0)
