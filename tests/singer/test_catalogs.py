"""Catalogs a user can write, and `--test`: one clear line for what cannot work, and never a
SCHEMA that disagrees with its records."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.errors import ConfigError
from tap_clevertap_counts.tap import TapClevertapCounts
from tests.conftest import bookmarks, run_cli, run_tap, tap_config, truth

Edit = Callable[[dict[str, Any]], None]


def discovered() -> dict[str, Any]:
    catalog: dict[str, Any] = TapClevertapCounts(config=None, validate_config=False).catalog_dict
    return catalog


def edited(edit: Edit, stream: str = "profile_counts") -> dict[str, Any]:
    catalog = copy.deepcopy(discovered())
    (entry,) = [e for e in catalog["streams"] if e["tap_stream_id"] == stream]
    edit(entry)
    return catalog


def root(entry: dict[str, Any]) -> dict[str, Any]:
    (metadata,) = [m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []]
    return metadata  # type: ignore[no-any-return]


def drop(name: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        del entry["schema"]["properties"][name]
        entry["metadata"] = [m for m in entry["metadata"] if m["breadcrumb"][-1:] != [name]]

    return edit


def deselect(name: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        for m in entry["metadata"]:
            if m["breadcrumb"] == ["properties", name]:
                m["metadata"].update(inclusion="available", selected=False)

    return edit


def replication_key(name: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        entry["replication_key"] = name
        root(entry)["replication-key"] = name

    return edit


def key_properties(names: list[str]) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        entry["key_properties"] = names
        root(entry)["table-key-properties"] = names

    return edit


def retype(name: str, schema: dict[str, Any]) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        entry["schema"]["properties"][name] = schema

    return edit


def add(name: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        entry["schema"]["properties"][name] = {"type": ["string"]}

    return edit


def empty_schema(entry: dict[str, Any]) -> None:
    entry["schema"] = {}


REFUSED: dict[str, tuple[Edit, str]] = {
    "without the replication key": (drop("to_date"), "leaves out 'to_date', the replication key"),
    "without a key property": (drop("query_name"), "leaves out 'query_name', a key property"),
    "another replication key": (replication_key("count"), "replication key is 'count'"),
    "an unknown replication key": (replication_key("day"), "replication key is 'day'"),
    "an unknown key property": (key_properties(["id"]), "key property 'id' is not a field"),
    "another type": (retype("to_date", {"type": "integer"}), "another type"),
    "an unknown property": (add("revenue"), "property 'revenue' the tap does not write"),
    "an empty schema": (empty_schema, "its schema has no properties"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_a_catalog_the_tap_cannot_sync_is_refused_before_any_request(
    emulator: Emulator, case: str
) -> None:
    edit, words = REFUSED[case]
    with pytest.raises(ConfigError, match="the catalog's stream 'profile_counts'") as raised:
        run_tap(tap_config(emulator), catalog=edited(edit))
    assert words in str(raised.value)
    assert emulator.requests() == []


def test_the_command_says_so_in_one_line(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text(json.dumps(edited(drop("to_date"))))
    run = run_cli(["--catalog", str(tmp_path / "catalog.json")], tap_config(emulator), tmp_path)
    assert run.returncode == 1
    (line,) = [line for line in run.stderr.splitlines() if "error" in line]
    assert line.startswith("tap-clevertap-counts: error: the catalog's stream 'profile_counts'")
    assert "to_date" in line and "Traceback" not in run.stderr
    assert run.stdout == ""
    assert emulator.requests() == []


def no_replication_key(entry: dict[str, Any]) -> None:
    entry.pop("replication_key", None)
    root(entry).pop("replication-key", None)


ACCEPTED: dict[str, Edit] = {
    "a plain property deselected": deselect("event_name"),
    "a key property deselected": deselect("from_date"),  # to_date: test_handwritten
    "no replication key given": no_replication_key,
    "no key properties (append only)": key_properties([]),
}


@pytest.mark.parametrize("case", ACCEPTED, ids=list(ACCEPTED))
def test_what_a_catalog_may_change(emulator: Emulator, case: str) -> None:
    config = tap_config(emulator, end_date="2024-03-02")
    run = run_tap(config, catalog=edited(ACCEPTED[case]))
    assert len(run.records) == 4
    queries = {query["name"]: query for query in config["queries"]}
    for record in run.records:  # day granularity: from_date is to_date
        day = record["to_date"]
        assert record["count"] == truth(emulator, queries[record["query_name"]], day, day)
    assert bookmarks(run.state) == {"pizza": "2024-03-02", "launches": "2024-03-02"}


def schemas(stdout: str) -> dict[str, dict[str, Any]]:
    messages = [json.loads(line) for line in stdout.splitlines()]
    return {m["stream"]: m for m in messages if m["type"] == "SCHEMA"}


def test_test_mode_counts_one_period_of_the_default_stream_only(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`--test` tests what a sync of this config would run: not the opt-in event_counts."""
    run = run_cli(["--test"], tap_config(emulator), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    found = schemas(run.stdout)
    assert list(found) == ["profile_counts"]
    schema = found["profile_counts"]
    assert set(schema["key_properties"]) <= set(schema["schema"]["properties"])
    (record,) = run.records
    assert set(record) == set(schema["schema"]["properties"])
    assert run.event_records == []
    assert {e["path"] for e in emulator.requests()} == {"/1/counts/profiles.json"}


def test_test_schema_mode_prints_every_stream_whole(emulator: Emulator, tmp_path: Path) -> None:
    run = run_cli(["--test=schema"], tap_config(emulator), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    found = schemas(run.stdout)
    assert set(found) == {"profile_counts", "event_counts"}
    for message in found.values():
        properties = message["schema"]["properties"]
        assert {"query_name", "from_date", "to_date", "count"} <= set(properties)
        assert set(message["key_properties"]) <= set(properties)
    assert emulator.requests() == []


def profile_entry(**changes: Any) -> dict[str, Any]:
    (entry,) = [e for e in discovered()["streams"] if e["tap_stream_id"] == "profile_counts"]
    return {**entry, **changes}


NOT_A_CATALOG: dict[str, tuple[Any, str]] = {
    "an empty object": ({}, 'an object with a "streams" list'),
    "streams not a list": ({"streams": "profile_counts"}, 'a "streams" list'),
    "an entry without its id": ({"streams": [{"stream": "x"}]}, '"tap_stream_id"'),
    "another tap's stream": (
        {"streams": [profile_entry(tap_stream_id="users")]},
        "stream 'users' is not one of this tap's (profile_counts, event_counts)",
    ),
    "a schema that is a list": ({"streams": [profile_entry(schema=[])]}, '"schema" is not'),
    "properties that are a list": (
        {"streams": [profile_entry(schema={"properties": []})]},
        '"schema" is not',
    ),
    "key properties as one string": (
        {"streams": [profile_entry(key_properties="query_name")]},
        '"key_properties" is not a list',
    ),
    "metadata without breadcrumbs": (
        {"streams": [profile_entry(metadata=[{"metadata": {"selected": True}}])]},
        '"metadata" is not a list',
    ),
}


@pytest.mark.parametrize("case", NOT_A_CATALOG, ids=list(NOT_A_CATALOG))
def test_what_is_not_a_catalog_of_this_tap_is_named_in_one_line(
    emulator: Emulator, case: str
) -> None:
    catalog, words = NOT_A_CATALOG[case]
    with pytest.raises(ConfigError, match="the catalog: ") as raised:
        TapClevertapCounts(config=tap_config(emulator), catalog=catalog)
    assert words in str(raised.value)


def test_the_command_names_the_catalog_file(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"streams": [profile_entry(metadata="all")]}))
    run = run_cli(["--catalog", str(path)], tap_config(emulator), tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        f"tap-clevertap-counts: error: the --catalog file {path}: stream 'profile_counts': "
        '"metadata" is not a list of {breadcrumb, metadata} objects'
    )
    assert emulator.requests() == []


def test_counted_by_is_discovered_and_a_catalog_saved_before_it_still_syncs(
    emulator: Emulator,
) -> None:
    for entry in discovered()["streams"]:
        prop = entry["schema"]["properties"]["counted_by"]
        assert set(prop["enum"]) == {"profiles", "events", "trends"}
        assert "string" in prop["type"]

    def forget(entry: dict[str, Any]) -> None:  # a catalog --discover wrote before 0.2.0
        del entry["schema"]["properties"]["counted_by"]
        entry["metadata"] = [
            m for m in entry["metadata"] if m["breadcrumb"] != ["properties", "counted_by"]
        ]

    config = tap_config(emulator, end_date="2024-03-02")
    run = run_tap(config, catalog=edited(forget))
    assert len(run.records) == 4
    assert all("counted_by" not in record for record in run.records)
    assert bookmarks(run.state) == {"pizza": "2024-03-02", "launches": "2024-03-02"}
