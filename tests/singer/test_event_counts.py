"""The `event_counts` stream (Get Event Count): opt-in, exact, incremental, and run together with
`profile_counts` in one plan, each (stream, query, period) asked of CleverTap once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, DEMO_PASSCODE, Emulator, ManualClock
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    assert_exact,
    bookmarks,
    event_truth,
    run_cli,
    run_tap,
    tap_config,
    truth,
)

PROFILES, EVENTS = "/1/counts/profiles.json", "/1/counts/events.json"


def catalog_selecting(*streams: str) -> dict[str, Any]:
    """The discovered catalog with exactly `streams` selected, as a user would edit it."""
    catalog = TapClevertapCounts(config=None, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def submits(emulator: Emulator) -> Counter[tuple[str, str, int, int]]:
    """(path, event, from, to) of every submit the emulator received, with multiplicity."""
    return Counter(
        (entry["path"], entry["body"]["event_name"], entry["body"]["from"], entry["body"]["to"])
        for entry in emulator.requests()
        if entry["kind"] == "submit" and isinstance(entry["body"], dict)
    )


def ymd(day: str) -> int:
    return int(day.replace("-", ""))


def test_discovery_offers_event_counts_unselected_by_default(tmp_path: Path) -> None:
    run = run_cli(["--discover"], None, tmp_path)
    catalog = json.loads(run.stdout)
    roots = {
        entry["tap_stream_id"]: next(
            m["metadata"] for m in entry["metadata"] if not m["breadcrumb"]
        )
        for entry in catalog["streams"]
    }
    assert roots["event_counts"]["selected-by-default"] is False
    assert roots["profile_counts"]["selected-by-default"] is True
    events = next(e for e in catalog["streams"] if e["tap_stream_id"] == "event_counts")
    assert events["key_properties"] == ["account_id", "query_name", "from_date", "to_date"]
    assert events["replication_key"] == "to_date"


def test_without_a_catalog_only_profiles_are_counted(emulator: Emulator) -> None:
    run = run_tap(tap_config(emulator, end_date="2024-03-03"))
    assert len(run.records) == 6
    assert run.event_records == []
    assert {path for path, *_ in submits(emulator)} == {PROFILES}


def test_event_counts_are_exact_and_count_occurrences_not_profiles(emulator: Emulator) -> None:
    config = tap_config(emulator, end_date="2024-03-07", count_events=True)
    run = run_tap(config, catalog=catalog_selecting("event_counts"))
    assert run.records == []
    assert len(run.event_records) == 14
    assert_exact(emulator, config, run)
    queries = {q["name"]: q for q in config["queries"]}
    for record in run.event_records:
        profiles = truth(
            emulator, queries[record["query_name"]], record["from_date"], record["to_date"]
        )
        # a profile can do the event several times a day: more events than profiles
        assert record["count"] > profiles
    assert {path for path, *_ in submits(emulator)} == {EVENTS}


def test_event_counts_resume_from_their_own_bookmarks(emulator: Emulator) -> None:
    catalog = catalog_selecting("event_counts", "profile_counts")
    first = run_tap(tap_config(emulator, end_date="2024-03-04", count_events=True), catalog=catalog)
    state = first.state
    assert state is not None
    assert bookmarks(state, "event_counts") == {"pizza": "2024-03-04", "launches": "2024-03-04"}
    # profiles of one query were counted further by some other run: each stream's own bookmark
    for partition in state["bookmarks"]["profile_counts"]["partitions"]:
        if partition["context"]["query_name"] == "pizza":
            partition["replication_key_value"] = "2024-03-06"

    emulator.clear_log()
    config = tap_config(emulator, end_date="2024-03-06", count_events=True)
    second = run_tap(config, state=state, catalog=catalog)
    assert [(r["query_name"], r["to_date"]) for r in second.event_records] == [
        ("pizza", "2024-03-05"),
        ("pizza", "2024-03-06"),
        ("launches", "2024-03-05"),
        ("launches", "2024-03-06"),
    ]
    assert [(r["query_name"], r["to_date"]) for r in second.records] == [
        ("launches", "2024-03-05"),
        ("launches", "2024-03-06"),
    ]
    assert_exact(emulator, config, second)
    assert bookmarks(second.state, "event_counts") == {
        "pizza": "2024-03-06",
        "launches": "2024-03-06",
    }


def test_both_streams_in_one_run_ask_each_period_once(make_emulator: Any) -> None:
    emulator = make_emulator(partial_share=0.7, job_seconds=0.02, expire_share=0.1)
    queries: list[dict[str, Any]] = [
        {**PIZZA, "granularity": "day"},
        {**LAUNCHES, "name": "weekly", "granularity": "week"},
        {"name": "wau", "event_name": "Charged", "granularity": "rolling_7d"},
    ]
    config = tap_config(
        emulator, start_date="2024-03-01", end_date="2024-03-24", queries=queries, count_events=True
    )
    run = run_tap(config, catalog=catalog_selecting("profile_counts", "event_counts"))
    assert_exact(emulator, config, run)
    expected: Counter[tuple[str, str, int, int]] = Counter()
    for path, records in ((PROFILES, run.records), (EVENTS, run.event_records)):
        for record in records:
            key = (path, record["event_name"], ymd(record["from_date"]), ymd(record["to_date"]))
            expected[key] += 1
    assert max(expected.values()) == 1  # no period twice in the output of a stream
    # 24 days + 3 whole weeks + 18 windows, for each stream
    assert len(run.records) == len(run.event_records) == 24 + 3 + 18
    # every (stream, query, period) submitted once: expired req_ids resubmit, so count them
    expired = sum(
        1
        for entry in emulator.requests()
        if entry["kind"] == "poll"
        and entry["answer"] == {"status": "fail", "error": "Invalid request ID"}
    )
    sent = submits(emulator)
    assert set(sent) == set(expected)
    assert sum(sent.values()) == len(expected) + expired
    # one plan for the whole run
    for records in (run.records, run.event_records):
        order = [(r["query_name"], r["to_date"]) for r in records]
        by_query = [str(q["name"]) for q in queries]
        assert order == sorted(order, key=lambda qd: (by_query.index(qd[0]), qd[1]))


def test_a_req_id_of_one_endpoint_is_unknown_to_the_other(
    make_emulator: Any, clock: ManualClock
) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=5, clock=clock)
    headers = {"X-CleverTap-Account-Id": DEMO_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_PASSCODE}
    body = {"event_name": "App Launched", "from": 20240301, "to": 20240301}
    submitted = requests.post(emulator.url + EVENTS, json=body, headers=headers, timeout=5).json()
    assert submitted["status"] == "partial"
    req_id = submitted["req_id"]
    wrong = requests.get(
        emulator.url + PROFILES, params={"req_id": req_id}, headers=headers, timeout=5
    )
    assert wrong.status_code == 400
    assert wrong.json() == {"status": "fail", "error": "Invalid request ID"}
    clock.advance(5)  # the job is done
    answer = requests.get(
        emulator.url + EVENTS, params={"req_id": req_id}, headers=headers, timeout=5
    ).json()
    day = "2024-03-01"
    assert answer == {"status": "success", "count": event_truth(emulator, LAUNCHES, day, day)}
