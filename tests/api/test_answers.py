"""Classifying single answers, row by row from CleverTap's reference page and the contract.

The expected outcomes are the contract's table ("what the tap does"), not the code's mapping.
"""

from __future__ import annotations

import json

import pytest

from tap_clevertap_counts.api.answers import Outcome, classify


def fail(status: int, error: str) -> tuple[int, bytes]:
    return status, json.dumps({"status": "fail", "error": error}).encode()


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (401, "Invalid Credentials", Outcome.AUTH),
        (400, "Account credentials missing", Outcome.AUTH),
        (503, "12 digit account ID mandatory.", Outcome.AUTH),
        (400, "Payload is mandatory", Outcome.REJECTED),
        (400, "[unknown event property]", Outcome.REJECTED),
        (400, "some other validation message", Outcome.REJECTED),
        (400, "Invalid request ID", Outcome.RESUBMIT),
        (400, "Error Processing, Please try again later", Outcome.RESUBMIT_LATER),
        (400, "Invalid query", Outcome.RESUBMIT_LATER),
        (429, "Too many concurrent requests", Outcome.THROTTLED),
        (429, "Invalid query blocking this because of too many retries", Outcome.RATE_LIMITED),
        (500, "Server error", Outcome.TRANSIENT),
        (503, "Please come back later", Outcome.TRANSIENT),
        (503, "System under maintenance. Please retry later.", Outcome.TRANSIENT),
        (200, "Server error", Outcome.TRANSIENT),  # a fail with 200: retried, never data
        (200, "[unknown event property]", Outcome.REJECTED),  # validation words, odd status
        (502, "Bad gateway", Outcome.TRANSIENT),
    ],
)
def test_the_reference_error_table(status: int, error: str, outcome: Outcome) -> None:
    answer = classify(*fail(status, error))
    assert answer.outcome is outcome
    assert answer.words == error  # the API's words, verbatim, for the message


def test_success_and_partial() -> None:
    success = classify(200, b'{"status":"success","count":7138}')
    assert (success.outcome, success.count) == (Outcome.SUCCESS, 7138)
    partial = classify(200, b'{"req_id":384649162721759,"status":"partial"}')
    assert (partial.outcome, partial.req_id) == (Outcome.PARTIAL, 384649162721759)


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"success"}',
        b'{"status":"success","count":"12"}',
        b'{"status":"success","count":12.5}',
        b'{"status":"success","count":12.0}',
        b'{"status":"success","count":-3}',
        b'{"status":"success","count":null}',
        b'{"status":"success","count":true}',
        b'{"status":"partial"}',
        b'{"status":"partial","req_id":"abc"}',
        b'{"status":"weird"}',
        b'{"status":"succ',
        b"<html><body>502 Bad Gateway</body></html>",
        b"",
        b"[1, 2, 3]",
    ],
)
def test_malformed_answers_are_retried_never_counted(body: bytes) -> None:
    answer = classify(200, body)
    assert answer.outcome is Outcome.TRANSIENT
    assert answer.count is None


def test_a_redirect_is_an_endpoint_problem() -> None:
    answer = classify(302, b"", "https://elsewhere.example/1/counts/profiles.json")
    assert answer.outcome is Outcome.ENDPOINT
    assert "elsewhere.example" in answer.words


def test_not_found_is_an_endpoint_problem() -> None:
    assert classify(404, b"<html>Not Found</html>").outcome is Outcome.ENDPOINT
