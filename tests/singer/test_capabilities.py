"""The capabilities the tap advertises: the same list in `--about` and meltano.yml, each working.

catalog, state, discover, about and stream-maps are exercised throughout the suite
(test_tap.py, test_resume.py, test_sdk_standard.py); the ones below are tested here.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tap_clevertap_counts.emulator import Emulator
from tests.conftest import (
    PIZZA,
    REPO,
    TAP_COMMAND,
    TapRun,
    about,
    assert_exact,
    bookmarks,
    run_cli,
    tap_config,
)


def test_meltano_yml_declares_exactly_the_capabilities_of_about() -> None:
    project = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    (extractor,) = [
        p for p in project["plugins"]["extractors"] if p["name"] == "tap-clevertap-counts"
    ]
    assert extractor["capabilities"] == about()["capabilities"]


def test_activate_version_is_not_advertised() -> None:
    """Every stream is incremental: the SDK would never send ACTIVATE_VERSION."""
    assert "activate-version" not in about()["capabilities"]


def test_batch_run_end_to_end_then_resume(emulator: Emulator, tmp_path: Path) -> None:
    """BATCH messages instead of RECORDs: files with every record, a STATE after each batch
    covering only what the files announced so far, and a resume from the last STATE."""
    batches = tmp_path / "batches"
    batches.mkdir()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": batches.as_uri(), "prefix": "run-"},
        "batch_size": 4,
    }
    config = tap_config(emulator, end_date="2024-03-06", batch_config=batch_config)
    (tmp_path / "first").mkdir()
    first = run_cli([], config, tmp_path / "first")
    records, states = read_batch_run(first, given=None)
    assert [(r["query_name"], r["to_date"]) for r in records] == [
        (name, f"2024-03-0{day}") for name in ("pizza", "launches") for day in range(1, 7)
    ]
    assert_exact(emulator, config, TapRun(records=records))
    assert bookmarks(states[-1]) == {"pizza": "2024-03-06", "launches": "2024-03-06"}

    emulator.clear_log()
    config["end_date"] = "2024-03-08"
    (tmp_path / "second").mkdir()
    second = run_cli([], config, tmp_path / "second", state=states[-1])
    records, _ = read_batch_run(second, given=states[-1])
    assert [(r["query_name"], r["to_date"]) for r in records] == [
        ("pizza", "2024-03-07"),
        ("pizza", "2024-03-08"),
        ("launches", "2024-03-07"),
        ("launches", "2024-03-08"),
    ]
    assert len([e for e in emulator.requests() if e["kind"] == "submit"]) == 4


def read_batch_run(
    run: TapRun, given: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The records in the run's batch files, in order, and its STATEs; checks the protocol
    (`given`: the --state the run started from)."""
    assert run.returncode == 0, run.stderr
    assert run.records == []  # no RECORD messages in batch mode
    records: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "BATCH":
            assert message["encoding"] == {"format": "jsonl", "compression": "gzip"}
            for url in message["manifest"]:
                assert url.startswith("file://")
                with gzip.open(url.removeprefix("file://"), "rt", encoding="utf-8") as file:
                    records.extend(json.loads(row) for row in file)
        elif message["type"] == "STATE":
            # a bookmark never passes a record that is not in a file announced before it
            announced = bookmarks(given)
            for record in records:
                announced[record["query_name"]] = record["to_date"]
            for name, bookmark in bookmarks(message["value"]).items():
                assert bookmark <= announced.get(name, ""), (name, bookmark, announced)
            states.append(message["value"])
    assert records and states
    return records, states


def test_schema_flattening_turns_the_filters_into_json_text(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(
        emulator,
        queries=[PIZZA],
        end_date="2024-03-02",
        flattening_enabled=True,
        flattening_max_depth=1,
    )
    run = run_cli([], config, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(run.records) == 2
    for record in run.records:
        assert isinstance(record["event_properties"], str)
        assert json.loads(record["event_properties"]) == PIZZA["event_properties"]
    assert_exact(emulator, config, run)


def test_structured_logging_writes_json_log_lines(emulator: Emulator, tmp_path: Path) -> None:
    """The SDK's structured logging (what Meltano's `structured-logging` parses) applies to
    the tap's own log lines too."""
    (tmp_path / "logging.yml").write_text(
        "version: 1\ndisable_existing_loggers: false\n"
        "formatters: {json: {(): singer_sdk.logging.StructuredFormatter}}\n"
        "handlers: {err: {class: logging.StreamHandler, stream: ext://sys.stderr,"
        " formatter: json}}\n"
        "root: {level: INFO, handlers: [err]}\n"
    )
    config = tap_config(emulator, end_date="2024-03-01")
    (tmp_path / "config.json").write_text(json.dumps(config))
    done = subprocess.run(
        [*TAP_COMMAND, "--config", str(tmp_path / "config.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SINGER_SDK_LOG_CONFIG": str(tmp_path / "logging.yml")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    messages = [line.get("message", "") for line in lines]
    assert any(f"with CleverTap at {emulator.url}" in message for message in messages), messages
