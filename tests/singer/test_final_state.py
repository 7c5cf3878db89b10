"""STATE as a target needs it: one after the last record of every sync, and at a pace that
keeps STATE bytes per record flat however many queries there are (time is an input here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.singer import delivery
from tests.conftest import bookmarks, run_tap, tap_config
from tests.delivered import batch_config


def kinds(stdout: str) -> list[str]:
    return [json.loads(line)["type"] for line in stdout.splitlines()]


@pytest.mark.parametrize("mode", ["records", "batch"])
def test_a_lookback_recount_ends_with_a_state_though_no_bookmark_moved(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    extra = {"batch_config": batch_config(tmp_path, 3)} if mode == "batch" else {}
    config = tap_config(emulator, end_date="2024-03-04", **extra)
    first = run_tap(config)
    assert first.state is not None
    second = run_tap({**config, "lookback_days": 1}, state=first.state)
    sent = kinds(second.stdout)
    delivered = "RECORD" if mode == "records" else "BATCH"
    assert delivered in sent  # the last day of each query, counted again
    assert sent[-1] == "STATE"
    last = max(i for i, kind in enumerate(sent) if kind == delivered)
    assert "STATE" in sent[last:]
    assert (
        bookmarks(second.state)
        == bookmarks(first.state)
        == {
            "pizza": "2024-03-04",
            "launches": "2024-03-04",
        }
    )


def test_nothing_to_count_ends_with_the_state_given(emulator: Emulator) -> None:
    config = tap_config(emulator, end_date="2024-03-02")
    first = run_tap(config)
    again = run_tap(config, state=first.state)
    assert again.records == []
    assert again.states == [first.state]


def queries(count: int) -> list[dict[str, Any]]:
    return [{"name": f"q{i:02}", "event_name": "App Launched"} for i in range(count)]


@pytest.mark.parametrize("count", [3, 12])
def test_a_state_per_partition_count_of_records_when_answers_are_quick(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """At least max(10, partitions) records between STATEs: each STATE holds a partition per
    query, so STATE bytes per record do not grow with the number of queries."""
    monkeypatch.setattr(delivery, "STATE_EVERY_SECONDS", 1e9)  # time never says "now"
    run = run_tap(tap_config(emulator, end_date="2024-03-05", queries=queries(count)))
    sent = kinds(run.stdout)
    assert sent[-1] == "STATE"
    between: list[int] = []
    records = 0
    for kind in sent:
        if kind == "RECORD":
            records += 1
        elif kind == "STATE":
            between.append(records)
            records = 0
    if between[-1] == 0:
        between.pop()  # the SDK's own at the end (it drops its starting markers then)
    every = max(delivery.STATE_EVERY_RECORDS, count)
    assert sum(between) == 5 * count
    assert all(n == every for n in between[:-1]), between
    assert 0 < between[-1] <= every


def test_a_state_once_the_time_span_passed_while_records_trickle(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "STATE_EVERY_SECONDS", 0.0)  # the span is always over
    run = run_tap(tap_config(emulator, end_date="2024-03-03"))
    sent = kinds(run.stdout)
    assert sent.count("RECORD") == 6
    # a STATE after each record, then perhaps the SDK's own at the end
    assert sent[1:13] == ["RECORD", "STATE"] * 6, sent
    assert sent[13:] in ([], ["STATE"])
