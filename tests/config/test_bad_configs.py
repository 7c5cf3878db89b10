"""More bad configs, through the installed command: wrong types inside queries and filters,
dates as numbers, api_url with credentials, NaN and infinite numbers, files that hold no config.

Each is refused before any request, in one line, without a traceback
(tests/config/test_tap_config.py has the first set).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tap_clevertap_counts.emulator import Emulator, EmulatorConfig
from tests.conftest import PIZZA, TAP_COMMAND, assert_no_secret, tap_config

FILTER = {"name": "value", "operator": "contains", "value": "piz"}


def _query(**changes: Any) -> dict[str, Any]:
    return {"queries": [{**PIZZA, **changes}]}


def _filter(**changes: Any) -> dict[str, Any]:
    item = {key: value for key, value in {**FILTER, **changes}.items() if value is not ...}
    return _query(event_properties=[item])


# label -> (change to a good config, words the one error line must hold)
BAD_CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "query is a string": ({"queries": ["pizza"]}, "queries[0] must be an object"),
    "query is null": ({"queries": [None]}, "queries[0] must be an object"),
    "query is a list": ({"queries": [[PIZZA]]}, "queries[0] must be an object"),
    "query name a number": (_query(name=123), "queries[0].name must use only"),
    "event_name a number": (_query(event_name=5), "queries[0].event_name must be"),
    "event_properties an object": (
        _query(event_properties=FILTER),
        "queries[0].event_properties must be a list of filters",
    ),
    "filter a string": (
        _query(event_properties=["value contains piz"]),
        "queries[0].event_properties[0] must be an object",
    ),
    "filter without operator": (
        _filter(operator=...),
        "queries[0].event_properties[0].operator must be one of",
    ),
    "filter without value": (_filter(value=...), "queries[0].event_properties[0].value is missing"),
    "filter value null": (_filter(value=None), "event_properties[0].value must be a string"),
    "filter value empty list": (_filter(value=[]), "event_properties[0].value must be a string"),
    "filter with an unknown key": (_filter(op="x"), "has unknown key(s) 'op'"),
    "granularity a number": (_query(granularity=7), "queries[0].granularity must be one of"),
    "query start_date a number": (_query(start_date=20240301), "queries[0].start_date must be"),
    "query start_date impossible": (
        _query(start_date="2024-02-30"),
        "queries[0].start_date must be a date written YYYY-MM-DD",
    ),
    "start_date a number": ({"start_date": 20240301}, "start_date must be a date written"),
    "start_date a boolean": ({"start_date": True}, "start_date must be a date written"),
    "start_date month first": ({"start_date": "03/01/2024"}, "start_date must be a date written"),
    "end_date a number": ({"end_date": 20240310}, "end_date must be a date written"),
    "api_url with credentials": (
        {"api_url": "http://user:hunter2hunter2@127.0.0.1:9"},
        "api_url must not carry a query string, fragment or credentials",
    ),
    "api_url with a query string": (
        {"api_url": "https://api.clevertap.com/?x=1"},
        "api_url must not carry a query string",
    ),
    "api_url a number": ({"api_url": 8765}, "api_url must be an http(s) URL"),
    "http to a name starting with localhost": (
        {"api_url": "http://localhost.example.com"},
        "api_url uses plain http to localhost.example.com",
    ),
    "region a number": ({"region": 1}, "region must be one of"),
    "timezone a number": ({"timezone": 5}, "timezone must be an IANA time zone"),
    "timezone empty": ({"timezone": ""}, "timezone must be an IANA time zone"),
    "lookback_days true": ({"lookback_days": True}, "lookback_days must be a whole number"),
    "lookback_days fractional": ({"lookback_days": 1.5}, "lookback_days must be a whole number"),
    "max_concurrent_queries words": (
        {"max_concurrent_queries": "three"},
        "max_concurrent_queries must be a whole number",
    ),
    "poll_timeout_seconds zero": ({"poll_timeout_seconds": 0}, "poll_timeout_seconds must be"),
    "poll_interval_seconds NaN": ({"poll_interval_seconds": "NaN"}, "poll_interval_seconds must"),
    "poll_interval_seconds infinite": (
        {"poll_interval_seconds": "Infinity"},
        "poll_interval_seconds must",
    ),
    "request_timeout_seconds a list": (
        {"request_timeout_seconds": [5]},
        "request_timeout_seconds must be",
    ),
    "account_id a number": ({"account_id": 123456789012}, "account_id is required"),
    "account_id blank": ({"account_id": "   "}, "account_id is required"),
    "passcode blank": ({"passcode": "   "}, "passcode is required"),
    "queries as broken JSON text": ({"queries": "[{"}, "queries must be a non-empty list"),
    "queries null": ({"queries": None}, "queries must be a non-empty list"),
}


@dataclass
class Refusal:
    returncode: int
    stdout: str
    stderr: str
    requests: int


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Refusal]]:
    """Every bad config through the installed command, a few at a time (each ~0.5 s alone)."""
    emulators: list[Emulator] = []
    root = tmp_path_factory.mktemp("config")  # here: the factory is not safe across threads

    def attempt(label: str, change: dict[str, Any]) -> Refusal:
        emulator = Emulator(EmulatorConfig(seed=7, partial_share=0.0)).start()
        emulators.append(emulator)
        path = root / f"{list(BAD_CONFIGS).index(label)}.json"
        path.write_text(json.dumps(tap_config(emulator, **change)))
        done = subprocess.run(
            [*TAP_COMMAND, "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Refusal(done.returncode, done.stdout, done.stderr, len(emulator.requests()))

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {
                label: pool.submit(attempt, label, c) for label, (c, _) in BAD_CONFIGS.items()
            }
            yield {label: future.result() for label, future in futures.items()}
    finally:
        for emulator in emulators:
            emulator.stop()


@pytest.mark.parametrize("label", list(BAD_CONFIGS))
def test_a_bad_config_is_refused_before_any_request(
    refusals: dict[str, Refusal], label: str
) -> None:
    refusal = refusals[label]
    words = BAD_CONFIGS[label][1]
    assert_no_secret(refusal.stdout + refusal.stderr, "the tap's output")
    assert refusal.requests == 0  # refused before any API call
    assert refusal.returncode == 1
    assert "Traceback" not in refusal.stderr
    assert '"type":"RECORD"' not in refusal.stdout.replace(" ", "")
    errors = [line for line in refusal.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, refusal.stderr
    assert errors[0].startswith("tap-clevertap-counts: error: Invalid config: ")
    assert words in errors[0]
    assert "hunter2" not in refusal.stderr  # a URL's password is not echoed either


CONFIG_FILES = {"not JSON": '{"account_id": ', "empty": "", "a JSON list": "[]", "missing": None}


@pytest.mark.parametrize("label", list(CONFIG_FILES))
def test_a_config_file_that_holds_no_config_is_refused_in_one_line(
    emulator: Emulator, tmp_path: Path, label: str
) -> None:
    path = tmp_path / "config.json"
    text = CONFIG_FILES[label]
    if text is not None:
        path.write_text(text)
    done = subprocess.run(
        [*TAP_COMMAND, "--config", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("tap-clevertap-counts: ")
    assert emulator.requests() == []


@pytest.mark.parametrize("label", ["not JSON", "missing"])
def test_an_unreadable_config_file_is_named_as_the_problem(tmp_path: Path, label: str) -> None:
    path = tmp_path / "config.json"
    text = CONFIG_FILES[label]
    if text is not None:
        path.write_text(text)
    done = subprocess.run(
        [*TAP_COMMAND, "--config", str(path)], capture_output=True, text=True, check=False
    )
    line = done.stderr.strip().splitlines()[-1]
    assert "internal error" not in line
    assert str(path) in line
    assert done.returncode == 1
