"""The CleverTap client against the emulator: every row of the contract's answer table."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest

from tap_clevertap_counts.api.client import CleverTapClient, ClientSettings, CountRequest
from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, ManualClock
from tap_clevertap_counts.errors import (
    AccountBusyError,
    AuthError,
    EndpointError,
    PollTimeoutError,
    QueryRejectedError,
    RetriesExhaustedError,
    StoppedError,
    UnreachableError,
)

DAY = datetime.date(2024, 3, 5)
REQUEST = CountRequest(
    "pizza",
    "choseNewFavoriteFood",
    ({"name": "value", "operator": "contains", "value": "piz"},),
    DAY,
    DAY,
)


def client_for(emulator: Emulator, **overrides: Any) -> CleverTapClient:
    settings: dict[str, Any] = {
        "base_url": emulator.url,
        "account_id": DEMO_ACCOUNT_ID,
        "passcode": DEMO_PASSCODE,
        "request_timeout": 2.0,
        "poll_interval": 0.01,
        "poll_timeout": 10.0,
    }
    settings.update(overrides)
    return CleverTapClient(ClientSettings(**settings))


def expected(emulator: Emulator) -> int:
    return emulator.store.count_profiles(
        REQUEST.event_name, list(REQUEST.event_properties), DAY, DAY
    )


def kinds(emulator: Emulator) -> list[tuple[str, int]]:
    return [(entry["kind"], entry["status"]) for entry in emulator.requests()]


def test_a_synchronous_success_is_one_request(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.0)
    assert client_for(emulator).count(REQUEST) == expected(emulator)
    assert kinds(emulator) == [("submit", 200)]


def test_partial_is_polled_with_get_until_success(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.05)
    assert client_for(emulator).count(REQUEST) == expected(emulator)
    log = emulator.requests()
    assert log[0]["kind"] == "submit"
    assert all(entry["method"] == "GET" and entry["kind"] == "poll" for entry in log[1:])
    assert {entry["req_id"] for entry in log[1:]} == {log[0]["answer"]["req_id"]}
    # polls are spaced by the poll interval: 0.05 s of work at 0.01 s is at most ~6 polls
    assert 1 <= len(log) - 1 <= 7


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("auth_401", "Invalid Credentials"),
        ("credentials_400", "Account credentials missing"),
        ("account_503", "12 digit account ID mandatory."),
    ],
)
def test_credential_failures_stop_at_once(make_emulator: Any, kind: str, words: str) -> None:
    emulator = make_emulator(partial_share=0.0)
    emulator.inject(kind)
    client = client_for(emulator)
    with pytest.raises(AuthError, match=words):
        client.count(REQUEST)
    assert len(emulator.requests()) == 1
    assert client.stop.is_set()  # a shared client sends nothing more after this


def test_wrong_passcode_is_refused_without_retry(make_emulator: Any) -> None:
    emulator = make_emulator()
    with pytest.raises(AuthError, match="Invalid Credentials"):
        client_for(emulator, passcode="not-the-passcode").count(REQUEST)
    assert len(emulator.requests()) == 1


@pytest.mark.parametrize(
    ("kind", "words"),
    [("payload_400", "Payload is mandatory"), ("rejected_400", "[unknown event property]")],
)
def test_rejected_queries_name_the_query_and_dates(
    make_emulator: Any, kind: str, words: str
) -> None:
    emulator = make_emulator(partial_share=0.0)
    emulator.inject(kind)
    with pytest.raises(QueryRejectedError) as caught:
        client_for(emulator).count(REQUEST)
    message = str(caught.value)
    assert words in message
    assert "query 'pizza' (2024-03-05..2024-03-05)" in message
    assert len(emulator.requests()) == 1


def test_a_real_validation_error_is_quoted_verbatim(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.0)
    bad = CountRequest(
        "bad", "Charged", ({"name": "no_such_prop", "operator": "equals", "value": 1},), DAY, DAY
    )
    with pytest.raises(QueryRejectedError) as caught:
        client_for(emulator).count(bad)
    answer = emulator.requests()[0]["answer"]
    assert answer["error"] in str(caught.value)
    assert "query 'bad'" in str(caught.value)


def test_a_day_after_clevertaps_today_gets_date_advice_not_query_advice(
    make_emulator: Any,
) -> None:
    emulator = make_emulator(partial_share=0.0, today=DAY - datetime.timedelta(days=1))
    with pytest.raises(QueryRejectedError) as caught:
        client_for(emulator).count(REQUEST)
    message = str(caught.value)
    assert "[to date in the future]" in message  # CleverTap's words, quoted
    assert "timezone" in message
    assert "end_date" in message
    assert "event_properties" not in message  # the query itself is fine
    assert len(emulator.requests()) == 1


@pytest.mark.parametrize(
    "kind", ["invalid_req_id_400", "error_processing_400", "invalid_query_400"]
)
def test_a_lost_or_failed_job_is_submitted_again(make_emulator: Any, kind: str) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.02)
    emulator.inject(kind, on="poll")
    assert client_for(emulator).count(REQUEST) == expected(emulator)
    log = emulator.requests()
    failed = next(i for i, entry in enumerate(log) if entry["status"] == 400)
    assert log[failed]["kind"] == "poll"
    assert log[failed + 1]["kind"] == "submit"  # submitted again, not polled again
    assert sum(1 for entry in log if entry["kind"] == "submit") == 2


def test_expired_req_ids_are_submitted_again(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.01, expire_share=0.5)
    client = client_for(emulator)
    for offset in range(6):
        day = DAY + datetime.timedelta(days=offset)
        request = CountRequest("launches", "App Launched", (), day, day)
        assert client.count(request) == emulator.store.count_profiles("App Launched", [], day, day)
    answers = [entry["answer"] for entry in emulator.requests()]
    assert {"status": "fail", "error": "Invalid request ID"} in answers


@pytest.mark.parametrize(
    "kind", ["busy_429", "retries_429", "server_500", "later_503", "maintenance_503"]
)
def test_transient_answers_are_retried(make_emulator: Any, kind: str) -> None:
    emulator = make_emulator(partial_share=0.0)
    emulator.inject(kind, times=3)
    assert client_for(emulator).count(REQUEST) == expected(emulator)
    statuses = [status for _, status in kinds(emulator)]
    assert statuses[-1] == 200
    assert len(statuses) == 4


@pytest.mark.parametrize("kind", ["busy_429", "retries_429"])
def test_a_busy_account_is_waited_through_past_the_tries_of_a_failure(
    make_emulator: Any, kind: str
) -> None:
    emulator = make_emulator(partial_share=0.0)
    emulator.inject(kind, times=12, on="submit")  # more 429s in a row than max_tries
    assert client_for(emulator, max_tries=4).count(REQUEST) == expected(emulator)
    assert [status for _, status in kinds(emulator)] == [429] * 12 + [200]


def test_a_429_on_a_poll_keeps_the_job_and_polls_it_again(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.05)
    emulator.inject("busy_429", times=6, on="poll")
    assert client_for(emulator, max_tries=3).count(REQUEST) == expected(emulator)
    submits = [entry for entry in emulator.requests() if entry["kind"] == "submit"]
    assert len(submits) == 1  # the job was never given up


def test_a_429_that_never_ends_stops_within_busy_timeout(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.0)
    emulator.inject("busy_429", times=10_000, on="submit")
    client = client_for(emulator, busy_timeout=0.3)
    with pytest.raises(AccountBusyError) as caught:
        client.count(REQUEST)
    message = str(caught.value)
    assert "Too many concurrent requests" in message
    assert "busy_timeout_seconds" in message
    assert "query 'pizza' (2024-03-05..2024-03-05)" in message
    sent = len(emulator.requests())
    assert client.stop.is_set()  # the run stops: nothing more is sent
    with pytest.raises(StoppedError):
        client.count(REQUEST)
    assert len(emulator.requests()) == sent


def test_retries_are_spent_then_the_api_words_are_quoted(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.0, maintenance=True)
    with pytest.raises(RetriesExhaustedError) as caught:
        client_for(emulator).count(REQUEST)
    assert "System under maintenance. Please retry later." in str(caught.value)
    assert "query 'pizza' (2024-03-05..2024-03-05)" in str(caught.value)
    assert len(emulator.requests()) >= 8  # the contract's minimum of tries


def test_a_host_that_never_answered_is_reported_after_a_few_tries(
    make_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = make_emulator()
    url = emulator.url
    emulator.stop()
    client = client_for(emulator, base_url=url)
    with pytest.raises(UnreachableError) as caught:
        client.count(REQUEST)
    message = str(caught.value)
    assert url in message
    assert "refused" in message
    assert "api_url" in message
    retries = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(retries) == 2  # tries 2 and 3 were announced; not the 10 of a blip


def test_a_host_name_that_does_not_resolve_is_said_so(emulator: Emulator) -> None:
    client = client_for(emulator, base_url="http://no-such-host.invalid:8765")
    with pytest.raises(UnreachableError, match="does not resolve"):
        client.count(REQUEST)


def test_a_refusal_after_answers_is_a_blip_and_gets_every_try(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.0)
    client = client_for(emulator, max_tries=5)
    assert client.count(REQUEST) == expected(emulator)
    emulator.stop()  # the server went away mid-run: a restart, a network blip
    with pytest.raises(RetriesExhaustedError, match="after 5 tries"):
        client.count(REQUEST)


def test_a_slow_answer_times_out_and_is_retried(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.0)
    emulator.inject("slow", times=1)  # answers after 2 s
    assert client_for(emulator, request_timeout=0.2).count(REQUEST) == expected(emulator)


def test_poll_timeout_names_the_query_and_dates(make_emulator: Any, clock: ManualClock) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=30.0, clock=clock)  # never ends
    with pytest.raises(PollTimeoutError) as caught:
        client_for(emulator, poll_timeout=0.1).count(REQUEST)
    assert "query 'pizza' (2024-03-05..2024-03-05)" in str(caught.value)
    assert "poll_timeout_seconds" in str(caught.value)


def test_an_unknown_path_is_an_endpoint_error(make_emulator: Any) -> None:
    emulator = make_emulator()
    client = client_for(emulator, base_url=emulator.url + "/nowhere")
    with pytest.raises(EndpointError, match="api_url"):
        client.count(REQUEST)
    assert len(emulator.requests()) == 1


def test_the_passcode_is_not_in_the_client_repr(emulator: Emulator) -> None:
    client = client_for(emulator)
    assert DEMO_PASSCODE not in repr(client)
    assert DEMO_PASSCODE not in repr(client.settings)


def test_polls_are_spaced_by_the_interval_and_no_more(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.2)
    client = client_for(emulator, poll_interval=0.05)
    for offset in range(3):
        day = DAY + datetime.timedelta(days=offset)
        request = CountRequest("launches", "App Launched", (), day, day)
        assert client.count(request) == emulator.store.count_profiles("App Launched", [], day, day)
    log = emulator.requests()
    jobs = [i for i, entry in enumerate(log) if entry["kind"] == "submit"] + [len(log)]
    for start, end in itertools.pairwise(jobs):
        # Never a burst of polls: 0.2 s of work at 0.05 s a poll is 1 submit + ceil(0.2 /
        # 0.05) polls, and the one that lands just before the job ends; a client polling on
        # every answer would send dozens. A loaded machine only makes it fewer. (The arrival
        # gaps themselves are not bounded: one request delayed by the machine shortens the
        # next gap, so a bound on them would fail under load.)
        assert end - start <= 1 + 4 + 2
