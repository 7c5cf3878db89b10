"""Hand-written inputs (issue 9): states, catalogs and configs a user edits, through the CLI.

Each case runs the installed `tap-clevertap-counts` against the in-process emulator and checks
the exit code, the one error line (when it fails), the records, the last STATE and what the
emulator was asked.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import (
    LAUNCHES,
    PIZZA,
    TapRun,
    assert_exact,
    bookmarks,
    run_cli,
    run_tap,
    tap_config,
    truth,
)

PREFIX = "tap-clevertap-counts: error:"
END = "2024-03-04"
DAYS = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]


def config_for(emulator: Emulator, **changes: Any) -> dict[str, Any]:
    return tap_config(emulator, **{"start_date": "2024-03-01", "end_date": END, **changes})


def submits(emulator: Emulator) -> list[tuple[str, int, int]]:
    return [
        (e["body"]["event_name"], e["body"]["from"], e["body"]["to"])
        for e in emulator.requests()
        if e["kind"] == "submit" and isinstance(e["body"], dict)
    ]


def real_state(emulator: Emulator, end: str = END) -> dict[str, Any]:
    """The state of a real earlier run up to `end` (so fingerprints are the tap's own)."""
    first = run_tap(config_for(emulator, end_date=end))
    assert first.state is not None
    assert bookmarks(first.state) == {"pizza": end, "launches": end}
    emulator.clear_log()
    return first.state


def partition(state: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in state["bookmarks"]["profile_counts"]["partitions"]:
        if entry["context"]["query_name"] == name:
            return dict(entry)
    raise AssertionError(f"no partition for {name}")


def error_lines(run: TapRun) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith(PREFIX)]


def assert_one_line_failure(run: TapRun, emulator: Emulator | None = None) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = error_lines(run)
    assert len(errors) == 1, run.stderr[-2000:]
    if emulator is not None:
        assert emulator.requests() == [], "a request was sent before the refusal"
    return errors[0]


_DISCOVERED: list[str] = []


def discovered_catalog(tmp_path: Path) -> dict[str, Any]:
    """The catalog `--discover` prints (run once per session), to edit as a user would."""
    if not _DISCOVERED:
        folder = tmp_path / "discover"
        folder.mkdir()
        run = run_cli(["--discover"], None, folder)
        assert run.returncode == 0, run.stderr[-2000:]
        _DISCOVERED.append(run.stdout)
    catalog: dict[str, Any] = json.loads(_DISCOVERED[0])
    return catalog


def stream_entry(catalog: dict[str, Any], name: str = "profile_counts") -> dict[str, Any]:
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == name:
            return entry  # type: ignore[no-any-return]
    raise AssertionError(f"no {name} in the catalog")


def metadata_at(entry: dict[str, Any], breadcrumb: list[str]) -> dict[str, Any]:
    for item in entry["metadata"]:
        if item["breadcrumb"] == breadcrumb:
            return item["metadata"]  # type: ignore[no-any-return]
    new: dict[str, Any] = {}
    entry["metadata"].append({"breadcrumb": breadcrumb, "metadata": new})
    return new


def run_with_catalog(
    catalog: dict[str, Any],
    config: dict[str, Any],
    folder: Path,
    state: dict[str, Any] | None = None,
) -> TapRun:
    folder.mkdir()
    path = folder / "catalog.json"
    path.write_text(json.dumps(catalog))
    return run_cli(["--catalog", str(path)], config, folder, state=state)


# --- states -----------------------------------------------------------------------------------


def test_a_bookmark_after_the_end_date_warns_and_counts_nothing_for_that_query(
    emulator: Emulator, tmp_path: Path
) -> None:
    state = real_state(emulator, end="2024-03-02")
    pizza = partition(state, "pizza")
    pizza["replication_key_value"] = "2030-01-01"
    state = copy.deepcopy(state)
    state["bookmarks"]["profile_counts"]["partitions"] = [pizza, partition(state, "launches")]
    config = config_for(emulator)
    run = run_cli([], config, tmp_path, state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [
        line
        for line in run.stderr.splitlines()
        if "WARN" in line and "pizza" in line and "2030-01-01" in line
    ]
    assert warnings, run.stderr[-3000:]
    assert run.periods() == [
        ("launches", "2024-03-03", "2024-03-03"),
        ("launches", "2024-03-04", "2024-03-04"),
    ]
    assert {event for event, _, _ in submits(emulator)} == {"App Launched"}
    assert_exact(emulator, config, run)
    assert bookmarks(run.state)["launches"] == END


def test_two_partitions_for_one_query_stop_in_one_line_before_any_request(
    emulator: Emulator, tmp_path: Path
) -> None:
    state = real_state(emulator, end="2024-03-02")
    pizza = partition(state, "pizza")
    older = {**pizza, "replication_key_value": "2024-03-01"}
    state["bookmarks"]["profile_counts"]["partitions"].append(older)
    run = run_cli([], config_for(emulator), tmp_path, state=state)
    line = assert_one_line_failure(run, emulator)
    assert "pizza" in line, line
    assert run.records == []


def test_a_meltano_style_state_is_used_or_refused_never_ignored(
    emulator: Emulator, tmp_path: Path
) -> None:
    inner = real_state(emulator, end="2024-03-02")
    config = config_for(emulator)
    run = run_cli([], config, tmp_path, state={"singer_state": inner})
    print(f"a Meltano-style state: exit {run.returncode}")
    if run.returncode == 0:
        # used as the inner state: the bookmarks are honoured
        assert run.periods() == [
            (name, day, day) for name in ("pizza", "launches") for day in DAYS[2:]
        ]
        assert len(submits(emulator)) == 4
        assert_exact(emulator, config, run)
        assert bookmarks(run.state) == {"pizza": END, "launches": END}
    else:
        line = assert_one_line_failure(run, emulator)
        assert "state" in line, line


# --- catalogs ---------------------------------------------------------------------------------


def test_a_catalog_deselecting_to_date_still_advances_the_bookmarks(
    emulator: Emulator, tmp_path: Path
) -> None:
    catalog = discovered_catalog(tmp_path)
    entry = stream_entry(catalog)
    metadata = metadata_at(entry, ["properties", "to_date"])
    metadata.update({"selected": False, "inclusion": "available"})
    config = config_for(emulator)
    run = run_with_catalog(catalog, config, tmp_path / "run")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert len(run.records) == 8
    assert sorted(submits(emulator)) == sorted(
        (event, int(day.replace("-", "")), int(day.replace("-", "")))
        for event in ("choseNewFavoriteFood", "App Launched")
        for day in DAYS
    )
    for record in run.records:  # with or without to_date, the rest is right
        query = PIZZA if record["query_name"] == "pizza" else LAUNCHES
        day = record["from_date"]
        assert record.get("to_date", day) == day
        assert record["count"] == truth(emulator, query, day, day), record
    assert bookmarks(run.state) == {"pizza": END, "launches": END}


def test_a_full_table_catalog_counts_everything_again_and_keeps_bookmarks(
    emulator: Emulator, tmp_path: Path
) -> None:
    state = real_state(emulator)
    catalog = discovered_catalog(tmp_path)
    entry = stream_entry(catalog)
    entry["replication_method"] = "FULL_TABLE"
    metadata_at(entry, [])["forced-replication-method"] = "FULL_TABLE"
    config = config_for(emulator)
    run = run_with_catalog(catalog, config, tmp_path / "run", state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert run.periods() == [(name, day, day) for name in ("pizza", "launches") for day in DAYS]
    assert len(submits(emulator)) == 8
    assert_exact(emulator, config, run)
    assert bookmarks(run.state) == {"pizza": END, "launches": END}


# --- configs and modes ------------------------------------------------------------------------


def test_a_stream_map_removing_a_key_property_stops_in_one_line(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = config_for(emulator, stream_maps={"profile_counts": {"to_date": None}})
    run = run_cli([], config, tmp_path)
    line = assert_one_line_failure(run, emulator)
    assert "stream_maps" in line or "to_date" in line, line
    assert run.records == []


def test_the_test_mode_counts_one_period_and_succeeds(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emulator = make_emulator(partial_share=1.0, job_seconds=0.02)
    config = config_for(emulator)
    run = run_cli(["--test"], config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert len(submits(emulator)) == 1, submits(emulator)
    # one RECORD in all: the first period of the first query of the default stream, though
    # the SDK's --test selects every stream (the opt-in event_counts too)
    records = [json.loads(line) for line in run.stdout.splitlines() if '"RECORD"' in line]
    assert len(records) == 1, run.stdout
    message = records[0]
    assert message["stream"] == "profile_counts"
    record = message["record"]
    assert record["query_name"] == config["queries"][0]["name"]
    query: dict[str, Any] = config["queries"][0]
    first, last = (datetime.date.fromisoformat(record[k]) for k in ("from_date", "to_date"))
    assert first.isoformat() == last.isoformat() == config["start_date"]
    assert record["count"] == emulator.store.count_profiles(
        query["event_name"], query.get("event_properties", []), first, last
    )
    schemas = [json.loads(line) for line in run.stdout.splitlines() if '"SCHEMA"' in line]
    (schema,) = [m for m in schemas if m["stream"] == "profile_counts"]
    assert set(record) <= set(schema["schema"]["properties"])  # the record fits its SCHEMA
    assert not re.search(r'"status":\s*"failed"', run.stderr), run.stderr[-3000:]
