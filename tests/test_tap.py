"""The tap as a Singer program: catalog selection, stream maps, --test, --state, stopping."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

from tap_clevertap_counts.emulator import Emulator, ManualClock
from tap_clevertap_counts.tap import TapClevertapCounts

from .conftest import (
    PIZZA,
    REPO,
    assert_exact,
    bookmarks,
    run_cli,
    run_tap,
    tap_config,
    tap_workers,
    wait_for_workers_to_end,
    wait_until,
)


def catalog_with(selected: bool) -> dict[str, Any]:
    catalog = TapClevertapCounts(config=None, validate_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = selected
    return catalog


def test_a_deselected_stream_sends_nothing(emulator: Emulator) -> None:
    run = run_tap(tap_config(emulator), catalog=catalog_with(False))
    assert run.records == []
    assert emulator.requests() == []


def test_selected_streams_sync(emulator: Emulator) -> None:
    config = tap_config(emulator, end_date="2024-03-02", count_events=True)
    run = run_tap(config, catalog=catalog_with(True))
    assert len(run.records) == 4  # 2 queries x 2 days, of each stream
    assert len(run.event_records) == 4
    assert_exact(emulator, config, run)


def test_stream_maps_transform_records(emulator: Emulator) -> None:
    config = tap_config(
        emulator,
        end_date="2024-03-02",
        queries=[PIZZA],
        stream_maps={
            "profile_counts": {"event_properties": "__NULL__", "count_doubled": "count * 2"}
        },
    )
    run = run_tap(config)
    assert len(run.records) == 2
    for record in run.records:
        assert "event_properties" not in record
        assert record["count_doubled"] == 2 * record["count"]


def test_the_cli_resumes_from_a_state_file(emulator: Emulator, tmp_path: Path) -> None:
    first = run_cli([], tap_config(emulator, end_date="2024-03-05"), tmp_path)
    assert first.returncode == 0, first.stderr
    assert bookmarks(first.state) == {"pizza": "2024-03-05", "launches": "2024-03-05"}
    emulator.clear_log()
    second = run_cli([], tap_config(emulator, end_date="2024-03-06"), tmp_path, state=first.state)
    assert second.returncode == 0, second.stderr
    assert second.periods() == [
        ("pizza", "2024-03-06", "2024-03-06"),
        ("launches", "2024-03-06", "2024-03-06"),
    ]
    assert len([e for e in emulator.requests() if e["kind"] == "submit"]) == 2


def end_the_first_jobs(emulator: Emulator, clock: ManualClock, jobs: int) -> threading.Thread:
    """Once the tap has `jobs` jobs running, end those and no other: the jobs it submits next
    run until the test is over. How far the workers get before the tap stops is then the same
    on every machine (one job more per worker at most), not a race."""

    def end() -> None:
        wait_until(lambda: emulator.running_jobs() == jobs, f"the tap's first {jobs} jobs")
        clock.advance(3600)

    thread = threading.Thread(target=end, daemon=True)
    thread.start()
    return thread


def test_cli_test_mode_reads_one_record_and_stops_sending(
    make_emulator: Any, clock: ManualClock, tmp_path: Path
) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=3600, clock=clock)
    config = tap_config(emulator, start_date="2024-01-01", end_date="2024-03-31")
    ender = end_the_first_jobs(emulator, clock, 1)
    run = run_cli(["--test"], config, tmp_path)
    ender.join()
    assert run.returncode == 0, run.stderr
    # the command is gone: once the emulator has answered all it sent, the log is complete
    wait_until(lambda: emulator.open_connections() == 0, "the emulator to answer everything")
    submits = [e for e in emulator.requests() if e["kind"] == "submit"]
    assert len(submits) == 1, "--test counts one period, once"


def test_an_abandoned_sync_stops_its_workers(make_emulator: Any, clock: ManualClock) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=3600, clock=clock)
    before = tap_workers()
    ender = end_the_first_jobs(emulator, clock, 3)
    tap = TapClevertapCounts(
        config=tap_config(emulator, start_date="2024-01-01", end_date="2024-03-31")
    )
    stream = tap.streams["profile_counts"]
    records = stream.get_records({"query_name": "pizza"})
    assert isinstance(records, Generator)
    first = next(records)
    ender.join()
    assert isinstance(first, dict)
    assert first["to_date"] == "2024-01-01"
    records.close()
    settled = len(emulator.requests())
    submitted = len([e for e in emulator.requests() if e["kind"] == "submit"])
    # every request the workers send after the close is in the log once they are gone
    wait_for_workers_to_end(tap_workers() - before)
    assert len(emulator.requests()) <= settled + 3  # at most the polls already under way
    # no job starts after the close, and none ran ahead but the one per worker after its first
    assert len([e for e in emulator.requests() if e["kind"] == "submit"]) <= submitted + 3
    assert 3 <= submitted <= 6


def test_cli_errors_are_one_line_without_traceback(emulator: Emulator, tmp_path: Path) -> None:
    config = tap_config(emulator, passcode="wrong-passcode-123")
    run = run_cli([], config, tmp_path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-clevertap-counts: error: CleverTap refused the credentials")
    assert "Invalid Credentials" in last
    assert "An unhandled error occurred" not in run.stderr
    # once the 401 is seen no further request is sent: at most one per worker in flight
    assert 1 <= len(emulator.requests()) <= 3


def test_cli_test_mode_with_a_bad_config_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    run = run_cli(["--test"], tap_config(emulator, timezone="Nowhere/Else"), tmp_path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("tap-clevertap-counts: error:")


def test_the_host_is_logged_once_at_start(emulator: Emulator, tmp_path: Path) -> None:
    run = run_cli([], tap_config(emulator, end_date="2024-03-01"), tmp_path)
    assert run.stderr.count(f"with CleverTap at {emulator.url}") == 1
    assert bookmarks(run.state) == {"pizza": "2024-03-01", "launches": "2024-03-01"}


def test_sample_config_is_valid_and_runs_against_the_emulator(
    emulator: Emulator, tmp_path: Path
) -> None:
    sample = json.loads((REPO / "sample_config.json").read_text())
    assert sample["api_url"] == "http://127.0.0.1:8765"  # the emulator's default port
    sample.update(api_url=emulator.url, start_date="2024-03-04", end_date="2024-03-10")
    run = run_cli([], sample, tmp_path)
    assert run.returncode == 0, run.stderr
    assert_exact(emulator, sample, run)
    assert {r["query_name"] for r in run.records} == {q["name"] for q in sample["queries"]}
    assert run.state is not None


def test_fractional_filter_values_from_a_config_file(emulator: Emulator, tmp_path: Path) -> None:
    """The SDK reads a config file's fractions as Decimal; they must reach CleverTap as numbers."""
    big = {
        "name": "big_orders",
        "event_name": "Charged",
        "event_properties": [{"name": "amount", "operator": "greater_than", "value": 99.5}],
    }
    config = tap_config(emulator, queries=[big], end_date="2024-03-02")
    run = run_cli([], config, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(run.records) == 2
    assert_exact(emulator, config, run)
    assert run.records[0]["event_properties"][0]["value"] == 99.5
    submits = [e["body"] for e in emulator.requests() if e["kind"] == "submit"]
    assert submits[0]["event_properties"][0]["value"] == 99.5
