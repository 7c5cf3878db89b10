"""Bad configs are refused before any request: one line naming the key, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import DEMO_PASSCODE, Emulator
from tests.conftest import CONTRACT_SETTINGS, PIZZA, run_cli, tap_config

TOMORROW_FAR = "2999-01-01"


def broken(
    emulator: Emulator, change: dict[str, Any], drop: tuple[str, ...] = ()
) -> dict[str, Any]:
    config = tap_config(emulator, **change)
    for key in drop:
        config.pop(key, None)
    return config


CASES: list[tuple[str, dict[str, Any], tuple[str, ...], str]] = [
    ("missing account_id", {}, ("account_id",), "account_id is required"),
    ("missing passcode", {}, ("passcode",), "passcode is required"),
    ("passcode not a string", {"passcode": 123456789}, (), "passcode is required"),
    ("missing start_date", {}, ("start_date",), "start_date is required"),
    ("bad start_date", {"start_date": "2024-13-01"}, (), "start_date must be a date"),
    ("end before start", {"end_date": "2024-02-01"}, (), "is after end_date"),
    ("end in the future", {"end_date": TOMORROW_FAR}, (), "end_date 2999-01-01 is after today"),
    ("bad timezone", {"timezone": "Mars/Olympus"}, (), "timezone must be an IANA"),
    ("unknown region", {"region": "xx9"}, (), "region must be one of"),
    ("http to a remote host", {"api_url": "http://example.com"}, (), "plain http"),
    ("not a url", {"api_url": "ftp://x"}, (), "api_url must be an http(s) URL"),
    ("no queries", {"queries": []}, (), "queries must be a non-empty list"),
    ("queries not a list", {"queries": {"name": "x"}}, (), "queries must be a non-empty list"),
    (
        "duplicate names",
        {"queries": [PIZZA, {**PIZZA, "event_name": "Charged"}]},
        (),
        "query names must be unique: pizza",
    ),
    (
        "bad query name",
        {"queries": [{**PIZZA, "name": "has space"}]},
        (),
        "queries[0].name must use only",
    ),
    (
        "missing event_name",
        {"queries": [{"name": "x"}]},
        (),
        "queries[0].event_name must be",
    ),
    (
        "bad operator",
        {
            "queries": [
                {**PIZZA, "event_properties": [{"name": "v", "operator": "between", "value": 1}]}
            ]
        },
        (),
        "operator must be one of",
    ),
    (
        "filter value an object",
        {
            "queries": [
                {**PIZZA, "event_properties": [{"name": "v", "operator": "equals", "value": {}}]}
            ]
        },
        (),
        "value must be a string, number or boolean",
    ),
    (
        "bad granularity",
        {"queries": [{**PIZZA, "granularity": "year"}]},
        (),
        "granularity must be one of",
    ),
    ("negative lookback", {"lookback_days": -1}, (), "lookback_days must be a whole number"),
    ("fractional concurrency", {"max_concurrent_queries": 1.5}, (), "max_concurrent_queries must"),
    ("zero concurrency", {"max_concurrent_queries": 0}, (), "max_concurrent_queries must"),
    ("negative poll interval", {"poll_interval_seconds": -2}, (), "poll_interval_seconds must"),
    ("text timeout", {"request_timeout_seconds": "soon"}, (), "request_timeout_seconds must"),
    ("unknown key", {"passcod": "x"}, (), "unknown config key(s) 'passcod'"),
    ("unknown query key", {"queries": [{**PIZZA, "filters": []}]}, (), "unknown key(s) 'filters'"),
]


@pytest.mark.parametrize(("label", "change", "drop", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_refused_in_one_line(
    emulator: Emulator,
    tmp_path: Path,
    label: str,
    change: dict[str, Any],
    drop: tuple[str, ...],
    words: str,
) -> None:
    run = run_cli([], broken(emulator, change, drop), tmp_path)
    assert run.returncode != 0, label
    assert run.records == []
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, run.stderr
    assert words in errors[0]
    assert emulator.requests() == []  # refused before any API call
    assert "123456789" not in run.stderr
    assert DEMO_PASSCODE not in run.stderr + run.stdout


def test_numbers_may_arrive_as_text_from_meltano(emulator: Emulator, tmp_path: Path) -> None:
    config = tap_config(
        emulator,
        end_date="2024-03-02",
        queries=[PIZZA],
        poll_interval_seconds="0.01",
        max_concurrent_queries="2",
        lookback_days="0",
        request_timeout_seconds="5",
        poll_timeout_seconds="60",
    )
    run = run_cli([], config, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(run.records) == 2


def test_discover_works_without_config(tmp_path: Path) -> None:
    run = run_cli(["--discover"], None, tmp_path)
    assert run.returncode == 0, run.stderr
    assert '"profile_counts"' in run.stdout


def test_about_documents_every_contract_setting_and_marks_the_passcode_secret(
    tmp_path: Path,
) -> None:
    run = run_cli(["--about", "--format=json"], None, tmp_path)
    assert run.returncode == 0
    schema = json.loads(run.stdout)["settings"]
    properties = schema["properties"]
    assert set(properties) >= CONTRACT_SETTINGS
    assert all(properties[key].get("description") for key in CONTRACT_SETTINGS)
    assert [key for key in CONTRACT_SETTINGS if properties[key].get("secret")] == ["passcode"]
    assert set(schema["required"]) == {"account_id", "passcode", "start_date", "queries"}
