"""`count_events`: the opt-in to `event_counts` that holds whatever the catalog selects.

A Meltano project that added the tap with `--from-ref` selects `*.*` (Meltano drops the
definition's `select:`), so a catalog selecting every stream is what such a user's first run
sends. Without `count_events` it must ask CleverTap for profile counts only.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tap_clevertap_counts.config.settings import parse_settings
from tap_clevertap_counts.emulator import Emulator
from tap_clevertap_counts.errors import ConfigError
from tests.conftest import assert_exact, bookmarks, run_cli, run_tap, tap_config
from tests.singer.test_event_counts import EVENTS, PROFILES, catalog_selecting, submits

EVERY_STREAM = ("profile_counts", "event_counts")  # what Meltano's `*.*` selects


def test_a_catalog_selecting_everything_counts_profiles_only(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = tap_config(emulator, end_date="2024-03-03")
    with caplog.at_level(logging.INFO):
        run = run_tap(config, catalog=catalog_selecting(*EVERY_STREAM))
    assert len(run.records) == 2 * 3  # two queries, three days
    assert run.event_records == []
    assert_exact(emulator, config, run)
    assert {path for path, *_ in submits(emulator)} == {PROFILES}
    assert "event_counts" not in (run.state or {}).get("bookmarks", {})
    told = [r.getMessage() for r in caplog.records if "count_events is false" in r.getMessage()]
    assert len(told) == 1, told  # once per run, not once per look at the stream
    assert "set count_events to true" in told[0]


def test_count_events_as_meltano_passes_it_counts_both_streams(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Meltano hands a boolean set through the environment as text: "true" opts in."""
    config = tap_config(emulator, end_date="2024-03-02", count_events="true")
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_selecting(*EVERY_STREAM)))
    run = run_cli(["--catalog", str(catalog_path)], config, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(run.records) == len(run.event_records) == 2 * 2
    assert_exact(emulator, config, run)
    assert {path for path, *_ in submits(emulator)} == {PROFILES, EVENTS}
    assert bookmarks(run.state, "event_counts") == {"pizza": "2024-03-02", "launches": "2024-03-02"}


def test_count_events_without_the_stream_selected_counts_no_events(emulator: Emulator) -> None:
    """The opt-in is one of two locks: a catalog that leaves event_counts out still wins."""
    config = tap_config(emulator, end_date="2024-03-02", count_events=True)
    run = run_tap(config, catalog=catalog_selecting("profile_counts"))
    assert run.event_records == []
    assert len(run.records) == 2 * 2
    assert {path for path, *_ in submits(emulator)} == {PROFILES}


def test_count_events_must_be_a_boolean(emulator: Emulator) -> None:
    with pytest.raises(ConfigError, match=r"count_events must be true or false, got 'yes'"):
        parse_settings(tap_config(emulator, count_events="yes"))
