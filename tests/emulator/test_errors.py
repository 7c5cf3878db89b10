"""One test per row of the reference page's error table: exact HTTP status and exact words.

Plus the order in which CleverTap checks things, which decides which error a request with
several problems gets.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, ManualClock
from tests.emulator.conftest import HEADERS, PIZZA_BODY, PROFILES, Client, fail


def raw_request(
    emu: Emulator,
    method: str,
    path: str,
    headers: Sequence[tuple[str, str | bytes]],
    body: bytes | None = None,
) -> tuple[int, Any]:
    """Full control over headers (empty, repeated, non-ASCII), which `requests` tidies up."""
    url = urlsplit(emu.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


BODY = json.dumps(PIZZA_BODY).encode()
ACCOUNT = ("X-CleverTap-Account-Id", DEMO_ACCOUNT_ID)
PASSCODE = ("X-CleverTap-Passcode", DEMO_PASSCODE)


# Row: 400 "Account credentials missing": a header present but unparseable, or no passcode.
@pytest.mark.parametrize(
    "headers",
    [
        [ACCOUNT],
        [ACCOUNT, ("X-CleverTap-Passcode", "")],
        [ACCOUNT, ("X-CleverTap-Passcode", "   ")],
        [ACCOUNT, ("X-CleverTap-Passcode", "d\xe9mo".encode("latin-1"))],
        [ACCOUNT, PASSCODE, PASSCODE],
        [("X-CleverTap-Account-Id", ""), PASSCODE],
        [("X-CleverTap-Account-Id", "DEMO 000"), PASSCODE],
    ],
    ids=["no-passcode", "empty", "blank", "non-ascii", "repeated", "empty-account", "space"],
)
def test_credentials_missing(emu: Emulator, headers: list[tuple[str, str | bytes]]) -> None:
    assert raw_request(emu, "POST", PROFILES, headers, BODY) == (
        400,
        fail("Account credentials missing"),
    )


# Row: 400 "Payload is mandatory" — absent, empty or not JSON, whatever the Content-Type.
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (None, "application/json"),
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b'{"event_name": "x",', "application/json"),
        (b"\xff\xfe{}", "application/json"),
        (b"NaN", "application/json"),
        (b"null", "application/json"),
        (b"not json", "text/plain"),
        (b"", "text/plain"),
    ],
)
def test_payload_mandatory(emu: Emulator, body: bytes | None, content_type: str) -> None:
    headers = [ACCOUNT, PASSCODE, ("Content-Type", content_type)]
    assert raw_request(emu, "POST", PROFILES, headers, body) == (400, fail("Payload is mandatory"))


def test_content_type_alone_is_not_a_failure(emu: Emulator) -> None:
    """The reference page: the API reads the body whatever the declared Content-Type."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        status, answer = raw_request(
            emu, "POST", PROFILES, [ACCOUNT, PASSCODE, ("Content-Type", content_type)], BODY
        )
        assert (status, answer["status"]) == (200, "success")
    status, answer = raw_request(emu, "POST", PROFILES, [ACCOUNT, PASSCODE], BODY)
    assert (status, answer["status"]) == (200, "success")


# Row: 400 (query validation error string), returned verbatim.
def test_validation_error_is_verbatim(client: Client) -> None:
    body = {
        **PIZZA_BODY,
        "event_properties": [{"name": "flavour", "operator": "equals", "value": "x"}],
    }
    response = client.submit(body)
    assert (response.status_code, response.json()) == (400, fail("[unknown event property]"))


# Row: 400 "Invalid request ID" — not found, not a number, or expired.
@pytest.mark.parametrize("req_id", ["123456789012345", "abc", "-5", "12.5"])
def test_invalid_request_id(client: Client, req_id: str) -> None:
    response = client.poll(req_id)
    assert (response.status_code, response.json()) == (400, fail("Invalid request ID"))


def test_invalid_request_id_when_expired(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5, req_id_ttl_seconds=60, clock=clock)
    client = Client(emu)
    req_id = client.submit().json()["req_id"]
    clock.advance(65.5)
    response = client.poll(req_id)
    assert (response.status_code, response.json()) == (400, fail("Invalid request ID"))


# Row: 400 "Invalid query" — a poll without req_id.
@pytest.mark.parametrize("query", ["", "?req_id=", "?request_id=1", "?foo=bar"])
def test_invalid_query_without_req_id(emu: Emulator, query: str) -> None:
    status, answer = raw_request(emu, "GET", PROFILES + query, [ACCOUNT, PASSCODE])
    assert (status, answer) == (400, fail("Invalid query"))


# Row: 400 "Error Processing, Please try again later" — an async job that fails.
def test_error_processing(make_emu: Callable[..., Emulator], clock: ManualClock) -> None:
    emu = make_emu(partial_share=1.0, async_fail_share=1.0, job_seconds=5, clock=clock)
    client = Client(emu)
    req_id = client.submit().json()["req_id"]
    assert client.poll(req_id).json() == {"status": "partial", "req_id": req_id}
    clock.advance(5)
    response = client.poll(req_id)
    assert (response.status_code, response.json()) == (
        400,
        fail("Error Processing, Please try again later"),
    )


# Row: 401 "Invalid Credentials".
@pytest.mark.parametrize(
    "headers",
    [
        [("X-CleverTap-Account-Id", "WRONG-ACCOUNT"), PASSCODE],
        [ACCOUNT, ("X-CleverTap-Passcode", "wrong-passcode")],
        [ACCOUNT, ("X-CleverTap-Passcode", DEMO_PASSCODE.upper())],
        [("x-clevertap-account-id", DEMO_ACCOUNT_ID.lower()), PASSCODE],
    ],
)
def test_invalid_credentials(emu: Emulator, headers: list[tuple[str, str | bytes]]) -> None:
    assert raw_request(emu, "POST", PROFILES, headers, BODY) == (401, fail("Invalid Credentials"))
    assert raw_request(emu, "GET", PROFILES + "?req_id=1", headers) == (
        401,
        fail("Invalid Credentials"),
    )


def test_header_names_are_case_insensitive(emu: Emulator) -> None:
    """The reference's Ruby and Go examples spell them X-Clevertap-..."""
    headers = [("X-Clevertap-Account-Id", DEMO_ACCOUNT_ID), ("x-clevertap-passcode", DEMO_PASSCODE)]
    status, answer = raw_request(emu, "POST", PROFILES, headers, BODY)
    assert (status, answer["status"]) == (200, "success")


# Row: 429 "Too many concurrent requests" — over the account's concurrency limit.
def test_too_many_concurrent_requests(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    emu = make_emu(partial_share=1.0, job_seconds=5.0, clock=clock)
    client = Client(emu)
    for _ in range(3):
        assert client.submit().json()["status"] == "partial"
    response = client.submit()
    assert (response.status_code, response.json()) == (429, fail("Too many concurrent requests"))


# Row: 429 "Invalid query blocking this because of too many retries" (a seeded fault).
def test_too_many_retries(make_emu: Callable[..., Emulator]) -> None:
    client = Client(make_emu(fault_429=1.0))
    answers = {(r.status_code, r.json()["error"]) for r in (client.submit() for _ in range(40))}
    assert answers == {
        (429, "Too many concurrent requests"),
        (429, "Invalid query blocking this because of too many retries"),
    }


# Row: 500 "Server error".
def test_server_error(make_emu: Callable[..., Emulator]) -> None:
    client = Client(make_emu(fault_500=1.0))
    for response in (client.submit(), client.poll(1)):
        assert (response.status_code, response.json()) == (500, fail("Server error"))


# Row: 503 "12 digit account ID mandatory." — the account header is missing.
@pytest.mark.parametrize("headers", [[PASSCODE], []])
def test_account_id_mandatory(emu: Emulator, headers: list[tuple[str, str | bytes]]) -> None:
    expected = (503, fail("12 digit account ID mandatory."))
    assert raw_request(emu, "POST", PROFILES, headers, BODY) == expected
    assert raw_request(emu, "GET", PROFILES + "?req_id=1", headers) == expected


# Rows: 503 "Please come back later" and 503 "System under maintenance. Please retry later."
def test_come_back_later(make_emu: Callable[..., Emulator]) -> None:
    client = Client(make_emu(fault_503=1.0))
    answers = {(r.status_code, r.json()["error"]) for r in (client.submit() for _ in range(40))}
    assert answers == {
        (503, "Please come back later"),
        (503, "System under maintenance. Please retry later."),
    }


def test_maintenance(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(maintenance=True)
    client = Client(emu)
    expected = (503, fail("System under maintenance. Please retry later."))
    for response in (client.submit(), client.poll(1), client.poll(None), client.submit(b"")):
        assert (response.status_code, response.json()) == expected
    emu.set_maintenance(False)
    assert client.submit().status_code == 200
    emu.set_maintenance(True)
    assert client.submit().status_code == 503


# Not in the table: what an HTTP server says about other paths and methods.
def test_unknown_path_is_404_json(client: Client) -> None:
    for path in ("/", "/1/counts/top.json", "/1/counts/profiles", "/1/counts/profiles.json/x"):
        response = client.submit(path=path)
        assert (response.status_code, response.json()) == (404, fail("Not found"))


def test_other_method_is_405_json(client: Client) -> None:
    response = client.session.put(client.emulator.url + PROFILES, json=PIZZA_BODY, headers=HEADERS)
    assert (response.status_code, response.json()) == (405, fail("Method not allowed"))


# The order of checks decides which error a request with several problems gets.
def test_order_account_then_passcode_then_credentials(emu: Emulator) -> None:
    assert raw_request(emu, "POST", PROFILES, [("X-CleverTap-Passcode", "")], None)[0] == 503
    assert raw_request(emu, "POST", PROFILES, [("X-CleverTap-Account-Id", "nope")], None)[0] == 400
    headers = [("X-CleverTap-Account-Id", "nope"), ("X-CleverTap-Passcode", "nope")]
    assert raw_request(emu, "POST", PROFILES, headers, None)[0] == 401


def test_order_credentials_before_maintenance_and_faults(make_emu: Callable[..., Emulator]) -> None:
    emu = make_emu(maintenance=True, fault_500=1.0)
    headers = [ACCOUNT, ("X-CleverTap-Passcode", "wrong")]
    assert raw_request(emu, "POST", PROFILES, headers, BODY)[0] == 401


def test_order_maintenance_before_faults_and_payload(make_emu: Callable[..., Emulator]) -> None:
    client = Client(make_emu(maintenance=True, fault_500=1.0))
    response = client.submit(b"not json")
    assert response.json() == fail("System under maintenance. Please retry later.")


def test_order_faults_before_payload(make_emu: Callable[..., Emulator]) -> None:
    client = Client(make_emu(fault_500=1.0))
    assert client.submit(b"not json").json() == fail("Server error")


def test_order_payload_then_validation_then_concurrency(
    make_emu: Callable[..., Emulator], clock: ManualClock
) -> None:
    client = Client(make_emu(partial_share=1.0, job_seconds=5.0, concurrency_limit=1, clock=clock))
    assert client.submit().json()["status"] == "partial"
    assert client.submit(b"{").json() == fail("Payload is mandatory")
    assert client.submit({**PIZZA_BODY, "from": "20240101"}).json() == fail("[invalid from date]")
    assert client.submit().json() == fail("Too many concurrent requests")
