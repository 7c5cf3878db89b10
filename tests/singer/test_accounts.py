"""Records and bookmarks belong to an account: `account_id` is in every record and the primary
key, and each partition's state names the account its bookmark describes.

A config whose `account_id` changes under the same state counts the new account again from
`start_date` (the old bookmarks describe another account's data), saying so in one info line;
a state written before accounts were stored is taken as this account's, so upgrading users
do not count everything again.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tap_clevertap_counts.emulator import DEMO_ACCOUNT_ID, Emulator
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    assert_exact,
    bookmarks,
    run_cli,
    run_tap,
    tap_config,
    truth,
)

from .test_event_counts import catalog_selecting

OTHER = "ACME-123-0002"
OTHER_PASSCODE = "acme-passcode-Wm4q"
STREAMS = ("profile_counts", "event_counts")
QUERIES: dict[str, dict[str, Any]] = {"pizza": PIZZA, "launches": LAUNCHES}


def submitted(emulator: Emulator) -> list[tuple[str, int, int]]:
    return [
        (entry["body"]["event_name"], entry["body"]["from"], entry["body"]["to"])
        for entry in emulator.requests()
        if entry["kind"] == "submit" and isinstance(entry["body"], dict)
    ]


def partitions(state: dict[str, Any] | None, stream: str = "profile_counts") -> list[Any]:
    assert state is not None
    found: list[Any] = state["bookmarks"][stream]["partitions"]
    return found


def other_account(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator(account_id=OTHER, passcode=OTHER_PASSCODE)


def test_every_record_of_both_streams_carries_the_configured_account(
    make_emulator: Callable[..., Emulator],
) -> None:
    emulator = other_account(make_emulator)
    config = tap_config(emulator, account_id=OTHER, passcode=OTHER_PASSCODE, end_date="2024-03-03")
    config["count_events"] = True
    run = run_tap(config, catalog=catalog_selecting("profile_counts", "event_counts"))
    assert len(run.records) == len(run.event_records) == 6
    assert {r["account_id"] for r in run.records + run.event_records} == {OTHER}
    assert_exact(emulator, config, run)
    for stream in STREAMS:
        assert {p["account_id"] for p in partitions(run.state, stream)} == {OTHER}


def test_discovery_keys_both_streams_by_account_query_and_period(tmp_path: Path) -> None:
    catalog = json.loads(run_cli(["--discover"], None, tmp_path).stdout)
    for entry in catalog["streams"]:
        assert entry["key_properties"] == ["account_id", "query_name", "from_date", "to_date"]
        prop = entry["schema"]["properties"]["account_id"]
        assert prop["type"] == ["string"], entry["tap_stream_id"]
        assert "account_id" in entry["schema"]["required"]


def test_a_changed_account_counts_again_from_the_start_and_then_goes_on(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    demo = make_emulator()
    first = run_tap(tap_config(demo, end_date="2024-03-05"))
    assert bookmarks(first.state) == {"pizza": "2024-03-05", "launches": "2024-03-05"}
    other = other_account(make_emulator)
    moved = tap_config(other, account_id=OTHER, passcode=OTHER_PASSCODE, end_date="2024-03-06")
    second = run_cli([], moved, tmp_path, state=first.state)
    assert second.returncode == 0, second.stderr[-2000:]
    # every period from start_date again, for the new account, with its own counts
    days = [f"2024-03-0{d}" for d in range(1, 7)]
    assert second.periods() == [(q, d, d) for q in ("pizza", "launches") for d in days]
    assert {r["account_id"] for r in second.records} == {OTHER}
    assert_exact(other, moved, second)
    demo_counts = [
        truth(demo, QUERIES[r["query_name"]], r["from_date"], r["to_date"]) for r in second.records
    ]
    assert [r["count"] for r in second.records] != demo_counts, "the accounts' counts differ"
    for query in ("pizza", "launches"):
        line = (
            f"query '{query}': its bookmark 2024-03-05 is of account {DEMO_ACCOUNT_ID}, "
            f"not {OTHER}: counting account {OTHER} again from 2024-03-01"
        )
        assert line in second.stderr
    assert {p["account_id"] for p in partitions(second.state)} == {OTHER}
    assert bookmarks(second.state) == {"pizza": "2024-03-06", "launches": "2024-03-06"}
    # the same account again: incremental, nothing asked
    other.clear_log()
    third = run_tap(moved, state=second.state)
    assert third.records == []
    assert other.requests() == []
    assert demo.requests(), "the demo account was asked by the first run only"


def test_a_state_from_before_accounts_were_stored_is_this_accounts(emulator: Emulator) -> None:
    first = run_tap(tap_config(emulator, end_date="2024-03-05"))
    legacy = copy.deepcopy(first.state)
    assert legacy is not None
    for partition in partitions(legacy):
        assert partition.pop("account_id") == DEMO_ACCOUNT_ID
    emulator.clear_log()
    config = tap_config(emulator, end_date="2024-03-06")
    second = run_tap(config, state=legacy)
    assert second.periods() == [(q, "2024-03-06", "2024-03-06") for q in ("pizza", "launches")]
    assert sorted(submitted(emulator)) == [
        ("App Launched", 20240306, 20240306),
        ("choseNewFavoriteFood", 20240306, 20240306),
    ]
    assert_exact(emulator, config, second)
    # from now on the state names the account
    assert {p["account_id"] for p in partitions(second.state)} == {DEMO_ACCOUNT_ID}
